"""``Ahead``: an iterator on its own thread, bounded, errors where the item would have come, always joined."""

from __future__ import annotations

import threading

import pytest

from flickerd.ahead import Ahead


def test_items_arrive_in_order_and_the_queue_stays_bounded():
    made = []

    def produce():
        for i in range(50):
            made.append(i)
            yield i

    with Ahead(produce(), depth=2) as it:
        got = []
        for x in it:
            got.append(x)
            assert len(made) - len(got) <= 2 + 1  # the queue plus the one item being put
    assert got == list(range(50))


def test_a_producer_error_is_raised_in_the_consumer():
    def produce():
        yield 1
        raise ValueError("bad frame 2")

    with Ahead(produce()) as it:
        items = iter(it)
        assert next(items) == 1
        with pytest.raises(ValueError, match="bad frame 2"):
            next(items)


def test_leaving_early_stops_and_joins_the_thread():
    closed = threading.Event()

    def produce():
        try:
            for i in range(10**9):
                yield i
        finally:
            closed.set()

    before = threading.active_count()
    with Ahead(produce(), depth=1) as it:
        for x in it:
            if x == 3:
                break
    assert closed.is_set() and threading.active_count() == before
