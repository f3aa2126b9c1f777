"""Daily jobs run once per shop and local date, at the shop's local hour, across DST changes.

The clock is driven explicitly: `schedule_daily(runtime, now)` is called every ten minutes over
days around New York's 2026 DST changes (8 March: 02:00 → 03:00; 1 November: 02:00 → 01:00),
for a Tokyo shop on the default hours and a New York shop whose hours sit in those odd hours.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from rq import Queue
from sqlalchemy.orm import Session

from app.cli import main
from app.models import Shop
from app.services.daily_schedule import save_daily_hours
from jobs.schedule import schedule_daily
from tests.conftest import make_test_env
from tests.factories.shops import build_shop

TOKYO, NEW_YORK = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")
STEP = timedelta(minutes=10)


def make_shop(db: Session, domain: str, timezone: str, **hours: int) -> Shop:
    shop = build_shop(
        db,
        domain,
        account_name=domain,
        commit=False,
        timezone=timezone,
        sync_state={"status": "done", "finished_at": "2026-01-01T00:00:00+00:00"},
    )
    assert save_daily_hours(shop, hours) == {}
    db.commit()
    return shop


def drive(runtime: Any, start: datetime, end: datetime) -> dict[str, datetime]:
    """Tick from `start` to `end`; → each enqueued job id and the tick that enqueued it."""
    enqueued: dict[str, datetime] = {}
    now = start
    while now < end:
        for daily_id in schedule_daily(runtime, now):
            assert daily_id not in enqueued, f"{daily_id} enqueued twice"
            enqueued[daily_id] = now
        assert schedule_daily(runtime, now) == []  # a second scheduler on the same tick
        now += STEP
    return enqueued


def runs_by_local_date(
    enqueued: dict[str, datetime], prefix: str, zone: ZoneInfo
) -> dict[date, list[datetime]]:
    runs: dict[date, list[datetime]] = defaultdict(list)
    for daily_id, moment in enqueued.items():
        if daily_id.startswith(prefix):
            local = moment.astimezone(zone)
            assert daily_id == f"{prefix}{local:%Y%m%d}"  # the id names the local date
            runs[local.date()].append(local)
    return runs


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def test_each_daily_job_runs_once_per_local_day_at_its_local_hour_across_dst(
    runtime: Any, db: Session
) -> None:
    tokyo = make_shop(db, "tokyo.myshopify.com", "Asia/Tokyo")
    # 02:30 does not exist on 8 March and 01:30 happens twice on 1 November in New York.
    new_york = make_shop(
        db, "ny.myshopify.com", "America/New_York", scoring=2, **{"winback-scan": 1}
    )

    for start, end, first, last in (
        (
            datetime(2026, 3, 6, 12, tzinfo=UTC),
            datetime(2026, 3, 10, 12, tzinfo=UTC),
            date(2026, 3, 7),
            date(2026, 3, 9),
        ),
        (
            datetime(2026, 10, 30, 12, tzinfo=UTC),
            datetime(2026, 11, 3, 12, tzinfo=UTC),
            date(2026, 10, 31),
            date(2026, 11, 2),
        ),
    ):
        enqueued = drive(runtime, start, end)

        scoring_tokyo = runs_by_local_date(enqueued, f"scoring-{tokyo.id}-", TOKYO)
        winback_tokyo = runs_by_local_date(enqueued, f"winback-scan-{tokyo.id}-", TOKYO)
        scoring_ny = runs_by_local_date(enqueued, f"scoring-{new_york.id}-", NEW_YORK)
        winback_ny = runs_by_local_date(enqueued, f"winback-scan-{new_york.id}-", NEW_YORK)
        for day in days(first, last):
            assert [(t.hour, t.minute) for t in scoring_tokyo[day]] == [(4, 0)], day
            assert [(t.hour, t.minute) for t in winback_tokyo[day]] == [(10, 0)], day
            # Spring forward: 02:00 never comes, the run goes at 03:00 instead of being skipped.
            expected = (3, 0) if day == date(2026, 3, 8) else (2, 0)
            assert [(t.hour, t.minute) for t in scoring_ny[day]] == [expected], day
            # Fall back: 01:00 comes twice, the run goes once.
            assert [(t.hour, t.minute) for t in winback_ny[day]] == [(1, 0)], day
        assert len(enqueued) == sum(
            len(runs)
            for runs in (scoring_tokyo, winback_tokyo, scoring_ny, winback_ny)
            for runs in runs.values()
        )

    sync = Queue("sync", connection=runtime.redis)
    flows = Queue("flows", connection=runtime.redis)
    assert f"scoring-{tokyo.id}-20261101" in sync.job_ids
    assert f"winback-scan-{new_york.id}-20261101" in flows.job_ids
    job = flows.fetch_job(f"winback-scan-{new_york.id}-20261101")
    assert job is not None
    assert (job.func_name, job.args) == ("jobs.flows.scan_winback_shop", (new_york.id,))


def test_a_run_that_already_finished_is_not_enqueued_again_that_day(
    runtime: Any, db: Session, drain_jobs: Any
) -> None:
    shop = make_shop(db, "tokyo.myshopify.com", "Asia/Tokyo")
    morning = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)  # 10:30 in Tokyo
    assert sorted(schedule_daily(runtime, morning)) == [
        f"scoring-{shop.id}-20261207",
        f"winback-scan-{shop.id}-20261207",
    ]
    assert drain_jobs("sync", "flows") == 2  # both ran (an empty shop: nothing to score or scan)
    assert schedule_daily(runtime, morning + timedelta(hours=5)) == []
    assert schedule_daily(runtime, datetime(2026, 12, 7, 19, tzinfo=UTC)) == [
        f"scoring-{shop.id}-20261208"  # 04:00 on the 8th in Tokyo; the scan waits for 10:00
    ]


def test_invalid_daily_hours_are_refused_and_change_nothing(db: Session) -> None:
    shop = make_shop(db, "tokyo.myshopify.com", "Asia/Tokyo", scoring=5)
    errors = save_daily_hours(shop, {"scoring": 24, "winback-scan": "10", "sync": 3})
    assert set(errors) == {"scoring", "winback-scan", "sync"}
    assert shop.daily_hours == {"scoring": 5}


def test_the_cli_shows_sets_and_refuses_daily_hours(
    db: Session, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    shop = make_shop(db, "tokyo.myshopify.com", "Asia/Tokyo")
    env = make_test_env(database_url, redis_url, KIZUNA_INSTANCE=str(tmp_path / "cli"))
    command = ["shops", "daily-hours", "tokyo.myshopify.com"]

    shown = CliRunner().invoke(main, command, env=env)
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines() == [
        "scoring       04:00 Asia/Tokyo",
        "winback-scan  10:00 Asia/Tokyo",
    ]

    changed = CliRunner().invoke(main, [*command, "--winback-scan", "9"], env=env)
    assert "winback-scan  09:00 Asia/Tokyo" in changed.output
    refused = CliRunner().invoke(
        main, [*command, "--scoring", "24", "--winback-scan", "7"], env=env
    )
    assert refused.exit_code == 1
    assert "--scoring: must be a whole hour from 0 to 23" in refused.output
    db.expire_all()
    assert db.get_one(Shop, shop.id).daily_hours == {"winback-scan": 9}


def test_no_daily_job_while_the_first_sync_runs(db: Session, runtime: Any) -> None:
    shop = make_shop(db, "syncing.myshopify.com", "Asia/Tokyo")
    shop.sync_state = {"status": "running", "finished_at": None}
    db.commit()
    noon = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo: every daily hour has passed
    assert schedule_daily(runtime, noon) == []
    shop.sync_state = {"status": "done", "finished_at": noon.isoformat()}
    db.commit()
    assert len(schedule_daily(runtime, noon)) == 2
