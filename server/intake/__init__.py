"""Intake: tus uploads and the transaction in which evidence is born."""
