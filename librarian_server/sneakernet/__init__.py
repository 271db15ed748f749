"""Sneakernet: files that travel on disks carried by hand, with a self-describing format."""

from .disk import (
    DiskEnd,
    DiskEntry,
    DiskFormatError,
    DiskFull,
    DiskHeader,
    DiskReader,
    DiskWriter,
    layout_path,
)

__all__ = [
    "DiskEnd",
    "DiskEntry",
    "DiskFormatError",
    "DiskFull",
    "DiskHeader",
    "DiskReader",
    "DiskWriter",
    "layout_path",
]
