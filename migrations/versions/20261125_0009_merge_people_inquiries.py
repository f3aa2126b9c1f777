"""Join the people and inquiries branches into one head.

Revision ID: 0009_merge
Revises: 0007_people, 0008_inquiries
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0009_merge"
down_revision: str | Sequence[str] | None = ("0007_people", "0008_inquiries")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
