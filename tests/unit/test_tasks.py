"""Every declared task names a job function that exists, on a queue a worker takes."""

from __future__ import annotations

import importlib

import pytest

from app import tasks
from app.queueing import QUEUE_NAMES, Task


@pytest.mark.parametrize("task", tasks.ALL, ids=lambda task: task.name)
def test_each_task_path_is_a_job_function_on_a_worked_queue(task: Task) -> None:
    module_name, function_name = task.path.rsplit(".", 1)
    function = getattr(importlib.import_module(module_name), function_name)
    assert callable(function)
    assert task.queue in QUEUE_NAMES
    assert task.timeout > 0


def test_every_task_declared_in_the_module_is_listed_once() -> None:
    declared = {value for value in vars(tasks).values() if isinstance(value, Task)}
    assert declared == set(tasks.ALL)
    assert len({task.path for task in tasks.ALL}) == len(tasks.ALL)


def test_retries_follow_the_declared_intervals() -> None:
    retry = tasks.CONSENT_WRITEBACK.retry()
    assert retry is not None
    assert (retry.max, retry.intervals) == (5, [30, 120, 600, 1800, 3600])
    assert tasks.SEND_MESSAGE.retry() is None
    assert tasks.PROCESS_WEBHOOK.retry() is None  # the inbox retries webhook events itself
