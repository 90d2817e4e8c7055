"""The ``tasks:`` config, a channel's overrides and the poll schedule's arithmetic (pure)."""

from __future__ import annotations

import random

import pytest

from omnirouter.config import ConfigError, parse_config
from omnirouter.protocols.tasks.base import TaskTiming
from omnirouter.tasks import Schedule
from omnirouter.tasks.records import schedule_for

TIMING = TaskTiming(first_poll=5.0, max_poll=30.0, deadline=3600.0)


def test_the_tasks_mapping_reads_its_fixed_names() -> None:
    config = parse_config(
        "tasks:\n  poll_first: 2\n  poll_max: 20\n  poll_backoff: 2\n  deadline: 600\n"
        "  result_store: local:/var/lib/omni\n  result_retention_days: 7\n"
    )
    tasks = config.tasks
    assert (tasks.poll_first, tasks.poll_max, tasks.poll_backoff, tasks.deadline) == (2, 20, 2, 600)
    assert (tasks.result_store, tasks.result_retention_days) == ("local:/var/lib/omni", 7)
    with pytest.raises(ConfigError):
        parse_config("tasks:\n  poll_fist: 2\n")
    with pytest.raises(ConfigError):
        parse_config("tasks:\n  poll_backoff: 0.5\n")


def test_a_channel_overrides_the_config_which_overrides_the_vendor() -> None:
    vendor = schedule_for(TIMING, {}, poll_first=None, poll_max=None, poll_backoff=1.5, deadline=None)
    assert vendor == Schedule(5.0, 30.0, 1.5, 3600.0)
    config = schedule_for(TIMING, {}, poll_first=2, poll_max=10, poll_backoff=2, deadline=60)
    assert config == Schedule(2, 10, 2, 60)
    options = {"task_poll_first": "0.5", "task_poll_max": "3", "task_poll_backoff": "3", "task_deadline": "9"}
    assert schedule_for(TIMING, options, poll_first=2, poll_max=10, poll_backoff=2, deadline=60) == Schedule(
        0.5, 3, 3, 9
    )
    garbage = {"task_poll_first": "soon", "task_deadline": "-1"}
    assert schedule_for(TIMING, garbage, poll_first=None, poll_max=None, poll_backoff=1.5, deadline=None) == vendor


def test_gaps_grow_to_the_cap_with_jitter_and_honour_retry_after() -> None:
    schedule = Schedule(first=1.0, most=8.0, backoff=2.0, deadline=100.0)
    rng = random.Random(1)
    for polls, base in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (10, 8.0)]:
        gap = schedule.delay(polls, rng)
        assert 0.8 * base <= gap <= base
    assert schedule.delay(0, rng, retry_after=30.0) == 30.0  # the vendor asked for more than the cap
    assert schedule.delay(3, rng, retry_after=0.1) >= 0.8 * 8.0
