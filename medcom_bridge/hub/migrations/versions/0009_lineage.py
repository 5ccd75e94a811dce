"""hub_lineage: reprocessed flows and quarantined files, old -> new (issue 12)

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-05 23:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_lineage",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("old_flow_id", sa.String(length=36), nullable=True),
        sa.Column("source_file", sa.String(length=255), nullable=True),
        sa.Column("new_flow_id", sa.String(length=36), nullable=False),
        sa.Column("envelope_id", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["old_flow_id"], ["hub_flows.id"], name=op.f("fk_hub_lineage_old_flow_id_hub_flows")
        ),
        sa.ForeignKeyConstraint(
            ["new_flow_id"], ["hub_flows.id"], name=op.f("fk_hub_lineage_new_flow_id_hub_flows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_lineage")),
    )
    op.create_index(op.f("ix_hub_lineage_old_flow_id"), "hub_lineage", ["old_flow_id"], unique=False)
    op.create_index(op.f("ix_hub_lineage_new_flow_id"), "hub_lineage", ["new_flow_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_hub_lineage_new_flow_id"), table_name="hub_lineage")
    op.drop_index(op.f("ix_hub_lineage_old_flow_id"), table_name="hub_lineage")
    op.drop_table("hub_lineage")
