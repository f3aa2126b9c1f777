"""A flow's settings row on first use (`reads.ensure_flow_setting`): written once with the flow's
defaults and starting switch, never over a row that exists, and read once per transaction.

Integration tests, each run twice: on the real PostgreSQL test database and on a SQLite file
built with `alembic upgrade head` (the embedded mode).
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from app.flows.reads import ensure_flow_setting, flow_config, flow_setting
from app.flows.welcome import WELCOME
from app.models.flow import FlowSetting
from tests.factories import sql
from tests.factories.shops import build_shop

statements = sql.statements

pytestmark = pytest.mark.integration

DEFAULTS = {"step_delay_hours": [0, 48]}


@pytest.fixture
def session(db_or_sqlite: Session) -> Session:
    return db_or_sqlite


def settings_touched(statements: list[str]) -> list[str]:
    """The kind (SELECT, INSERT, ...) of each statement that touched `flow_settings`."""
    return [s.lstrip().split()[0].upper() for s in statements if "flow_settings" in s]


def test_first_use_writes_the_defaults_and_the_transaction_reads_the_row_once(
    session: Session, statements: list[str]
) -> None:
    shop_id = build_shop(session, "first-use.myshopify.com").id
    session.commit()
    assert flow_setting(session, shop_id, WELCOME) is None  # remembered missing...

    row = ensure_flow_setting(session, shop_id, WELCOME, DEFAULTS, enabled=False)

    assert (row.enabled, row.config) == (False, DEFAULTS)
    statements.clear()
    assert flow_setting(session, shop_id, WELCOME) is row  # ...until the row is written
    assert ensure_flow_setting(session, shop_id, WELCOME, {}, enabled=True) is row
    assert flow_config(session, shop_id, WELCOME)[0] is False
    assert settings_touched(statements) == []


def test_an_existing_row_is_read_and_never_written_over(
    session: Session, statements: list[str]
) -> None:
    shop_id = build_shop(session, "saved.myshopify.com").id
    session.add(FlowSetting(shop_id=shop_id, flow_key=WELCOME, enabled=True, config={"a": 1}))
    session.commit()
    statements.clear()

    row = ensure_flow_setting(session, shop_id, WELCOME, DEFAULTS, enabled=False)

    assert (row.enabled, row.config) == (True, {"a": 1})
    assert settings_touched(statements) == ["SELECT"]


def test_a_row_another_transaction_wrote_after_this_one_found_none_is_kept(
    session: Session,
) -> None:
    shop_id = build_shop(session, "raced.myshopify.com").id
    session.commit()
    assert flow_setting(session, shop_id, WELCOME) is None
    with Session(session.get_bind()) as other:
        other.add(FlowSetting(shop_id=shop_id, flow_key=WELCOME, enabled=True, config={"a": 1}))
        other.commit()

    row = ensure_flow_setting(session, shop_id, WELCOME, DEFAULTS, enabled=False)

    assert (row.enabled, row.config) == (True, {"a": 1})
