"""in_chunks: every value once, in order, never more than the limit per IN (...)."""

from __future__ import annotations

from librarian_server.services.core.sql import IN_BATCH, in_chunks


def test_chunks_keep_order_and_respect_the_size() -> None:
    assert list(in_chunks(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(in_chunks([], 3)) == []
    assert list(in_chunks(iter("ab"), 2)) == [["a", "b"]]


def test_the_default_size_is_the_shared_limit() -> None:
    sizes = [len(c) for c in in_chunks(range(2 * IN_BATCH + 1))]
    assert sizes == [IN_BATCH, IN_BATCH, 1]
