"""``service.disk.space_back``: when a full disk (the state dir's or an output's) is written again."""

from __future__ import annotations

from flickerd.service.disk import DISK_FREED_BYTES, DISK_FULL_RETRY_S, space_back


def test_a_full_disk_is_tried_again_once_space_is_freed_or_after_the_retry_time():
    full = 5_000
    assert not space_back(full + DISK_FREED_BYTES - 1, full, 100.0, 100.0 + DISK_FULL_RETRY_S - 0.1)
    assert space_back(full + DISK_FREED_BYTES, full, 100.0, 100.1)  # freed: at once
    assert space_back(full, full, 100.0, 100.0 + DISK_FULL_RETRY_S)  # nothing freed: after the retry time
    assert not space_back(0, full, 100.0, 101.0)  # less than when it filled
