"""saved segments and product collections

Revision ID: 0011_segments
Revises: 0009_merge
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_segments"
down_revision: str | Sequence[str] | None = "0009_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_saved_segments_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_segments")),
        sa.UniqueConstraint("shop_id", "name", name=op.f("uq_saved_segments_shop_id_name")),
    )
    op.create_index(op.f("ix_saved_segments_shop_id"), "saved_segments", ["shop_id"], unique=False)
    op.create_table(
        "product_collections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("collection_external_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("handle", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_product_collections_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_collections_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_collections")),
        sa.UniqueConstraint(
            "shop_id",
            "product_id",
            "collection_external_id",
            name=op.f("uq_product_collections_shop_id_product_id_collection_external_id"),
        ),
    )
    op.create_index(
        op.f("ix_product_collections_shop_id"), "product_collections", ["shop_id"], unique=False
    )
    op.create_index(
        op.f("ix_product_collections_product_id"),
        "product_collections",
        ["product_id"],
        unique=False,
    )
    op.create_index(
        "ix_product_collections_shop_collection",
        "product_collections",
        ["shop_id", "collection_external_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_product_collections_shop_collection", table_name="product_collections")
    op.drop_index(op.f("ix_product_collections_product_id"), table_name="product_collections")
    op.drop_index(op.f("ix_product_collections_shop_id"), table_name="product_collections")
    op.drop_table("product_collections")
    op.drop_index(op.f("ix_saved_segments_shop_id"), table_name="saved_segments")
    op.drop_table("saved_segments")
