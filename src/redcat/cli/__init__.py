"""The command-line face of redcat. It calls the layers below; nothing imports it."""
