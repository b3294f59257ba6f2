"""Consent with proof, the scope registry, and privacy requests (CONTRACT: Consent)."""
