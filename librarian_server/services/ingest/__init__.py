"""Ingest: stage, receive bytes (hashed while they stream), resume, commit; incoming transfers."""
