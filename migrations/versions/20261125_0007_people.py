"""people: one person per (account, normalised email); customers.person_id

Revision ID: 0007_people
Revises: 0006_merge
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_people"
down_revision: str | Sequence[str] | None = "0006_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_persons_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint(
            "account_id", "email_normalized", name=op.f("uq_persons_account_id_email_normalized")
        ),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_customers_person_id"), ["person_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_customers_person_id_persons"),
            "persons",
            ["person_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # Customers synced before people existed: link them (same rule as services/people.py).
    op.execute(
        """
        INSERT INTO persons (account_id, email_normalized, created_at)
        SELECT DISTINCT shops.account_id, customers.email_normalized, CURRENT_TIMESTAMP
        FROM customers JOIN shops ON shops.id = customers.shop_id
        WHERE customers.email_normalized IS NOT NULL AND customers.redacted_at IS NULL
        """
    )
    op.execute(
        """
        UPDATE customers SET person_id = (
            SELECT persons.id FROM persons JOIN shops ON shops.account_id = persons.account_id
            WHERE shops.id = customers.shop_id
              AND persons.email_normalized = customers.email_normalized
        )
        WHERE email_normalized IS NOT NULL AND redacted_at IS NULL
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_customers_person_id_persons"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_customers_person_id"))
        batch_op.drop_column("person_id")
    op.drop_table("persons")
