"""Join the WooCommerce, flows and scores branches into one head.

Revision ID: 0006_merge
Revises: 0002_woocommerce, 0003_flows, 0005_scores
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0006_merge"
down_revision: str | Sequence[str] | None = ("0002_woocommerce", "0003_flows", "0005_scores")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
