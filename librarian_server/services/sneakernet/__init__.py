"""Sneakernet: the disk format and its signatures, export, ingest, and disks in transit."""
