"""A process's name in heartbeats and RQ: never reused by a later process with the same pid."""

from __future__ import annotations

import os

from app import heartbeats


def test_the_name_is_stable_within_a_process_and_new_after_a_restart_with_the_same_pid() -> None:
    first = heartbeats.process_name()
    assert heartbeats.process_name() == first
    host, pid, tag = first.rsplit(":", 2)
    assert pid == str(os.getpid())
    assert len(tag) == 6
    assert len(first) <= 80  # fits messages.claimed_by
    heartbeats._TAGS.clear()  # as a new process that happens to get the same pid
    second = heartbeats.process_name()
    assert second.rsplit(":", 2)[:2] == [host, pid]
    assert second != first
