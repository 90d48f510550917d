"""Sealed court exports and their custody report."""
