"""Merchant RFM thresholds per shop; the customer list's keyset and search indexes.

`shops.rfm_thresholds` holds the merchant's score boundaries (NULL: automatic quintiles).
`customers (shop_id, id)` serves the list's newest-first keyset. On PostgreSQL `customer_scores`
gets fillfactor 70, so rescoring updates rows in place (HOT). `customers.search_text` is a
generated column (every form of the name plus the email, see `app.models.customer`); on
PostgreSQL a pg_trgm GIN index on it serves the substring search. SQLite (the small embedded
demo) gets a plain index of the same name, which its LIKE scan does not use.

Revision ID: 0012_customer_search
Revises: 0009_merge
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_customer_search"
down_revision: str | Sequence[str] | None = "0009_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEP = "\x1f"
_SEARCH_TEXT_SQL = (
    f"coalesce(first_name, '') || ' ' || coalesce(last_name, '') || '{_SEP}' || "
    f"coalesce(last_name, '') || ' ' || coalesce(first_name, '') || '{_SEP}' || "
    f"coalesce(last_name, '') || coalesce(first_name, '') || '{_SEP}' || "
    "coalesce(email, '')"
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rfm_thresholds", sa.JSON(), nullable=True))
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "search_text",
                sa.Text(),
                # SQLite can add only a VIRTUAL generated column to an existing table.
                sa.Computed(_SEARCH_TEXT_SQL, persisted=True if postgres else None),
                nullable=True,
            )
        )
        batch_op.create_index("ix_customers_shop_id_id", ["shop_id", "id"], unique=False)
    if postgres:
        # Scoring rewrites every score row; free space on each page lets PostgreSQL update
        # them in place (HOT) instead of adding an entry to each of the table's indexes.
        op.execute("ALTER TABLE customer_scores SET (fillfactor = 70)")
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_customers_search_trgm",
            "customers",
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )
    else:
        op.create_index("ix_customers_search_trgm", "customers", ["search_text"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE customer_scores RESET (fillfactor)")
    op.drop_index("ix_customers_search_trgm", table_name="customers")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_shop_id_id")
        batch_op.drop_column("search_text")
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("rfm_thresholds")
