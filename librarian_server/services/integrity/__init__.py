"""Keeping copies true: re-hashing copies, audits of stores, damage and its repair."""
