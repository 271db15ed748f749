"""Plumbing every domain shares: portable SQL and row claims, the error log, live processes."""
