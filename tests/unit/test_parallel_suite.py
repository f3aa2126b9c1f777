"""The parallel suite's isolation: every xdist worker its own database and Redis index."""

from __future__ import annotations

import pytest

from tests.conftest import (
    REDIS_DB_ORDER,
    redis_database_index,
    worker_database_name,
    xdist_worker_number,
)

BENCH_REDIS_DBS = {6, 8, 14}


def test_a_run_without_xdist_and_gw0_use_the_base_names() -> None:
    assert xdist_worker_number("") == 0
    assert xdist_worker_number("gw0") == 0
    assert worker_database_name("kizuna_test", "") == "kizuna_test"
    assert worker_database_name("kizuna_test", "gw0") == "kizuna_test_gw0"
    assert worker_database_name("kizuna_test", "gw3") == "kizuna_test_gw3"
    assert redis_database_index(13, 0) == 13


def test_workers_take_distinct_redis_databases_clear_of_the_benches() -> None:
    taken = [redis_database_index(13, number) for number in range(len(REDIS_DB_ORDER))]
    assert taken[:4] == [13, 15, 12, 11]
    assert len(set(taken)) == len(taken)
    assert not set(taken) & BENCH_REDIS_DBS
    assert all(0 <= index < 16 for index in taken)


def test_two_checkouts_with_apart_bases_do_not_share_an_index() -> None:
    default = {redis_database_index(13, number) for number in range(2)}
    other = {redis_database_index(9, number) for number in range(2)}
    assert default == {13, 15}
    assert other == {9, 7}
    assert redis_database_index(10, 1) == 9  # counts on from the base


def test_a_base_outside_the_order_is_gw0s_and_the_order_follows() -> None:
    assert redis_database_index(6, 0) == 6
    assert redis_database_index(6, 1) == 13


def test_more_workers_than_redis_databases_is_refused() -> None:
    with pytest.raises(pytest.UsageError, match="at most 13 workers"):
        redis_database_index(13, 13)
