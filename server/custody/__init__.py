"""Custody: the ledger, manifests, signing, tree heads, verification, retention."""
