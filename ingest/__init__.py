"""Custodian ingest package."""
