"""Librarian server: a site's data catalogue and mover."""

__version__ = "0.1.0"
