"""Custodian server package."""
