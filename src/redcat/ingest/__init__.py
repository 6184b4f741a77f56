"""Ingest: the data contract, file readers, validation and the quarantine of bad rows.

``contract`` (the tables each party exports), ``discover`` (a party's files in a directory),
``readers`` (CSV / JSONL / Parquet staged in Arrow batches), ``validate`` (per-row checks as SQL),
``load`` (:func:`redcat.ingest.load.ingest_party`, :func:`redcat.ingest.load.ingest_file`) and
``quarantine`` (reading the refused rows back).
"""
