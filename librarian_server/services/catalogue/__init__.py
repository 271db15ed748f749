"""The catalogue: files, names, the one namespace, stores and their used bytes, deletion."""
