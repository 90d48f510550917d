"""Custodian transcode package."""
