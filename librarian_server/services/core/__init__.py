"""Plumbing every domain shares: portable SQL, the error log, live processes, start-up work."""
