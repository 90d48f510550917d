"""Custodian integrity package."""
