"""merge post-purchase, segments, customer search, attribution and checkout opt-in

Revision ID: 0015_merge
Revises: 0010_post_purchase, 0011_segments, 0012_customer_search, 0013_attribution,
0014_checkout_opt_in
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

revision: str = "0015_merge"
down_revision: str | Sequence[str] | None = (
    "0010_post_purchase",
    "0011_segments",
    "0012_customer_search",
    "0013_attribution",
    "0014_checkout_opt_in",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
