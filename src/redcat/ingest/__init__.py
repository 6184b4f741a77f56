"""Ingest: the data contract, file readers, validation and the quarantine of bad rows."""
