"""Alert incidents and their notices (issue 12)

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-05 23:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("open_key", sa.String(length=160), nullable=True),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.String(length=512), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open_notified", sa.Boolean(), nullable=False),
        sa.Column("resolve_notified", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_incidents")),
        sa.UniqueConstraint("open_key", name=op.f("uq_hub_incidents_open_key")),
    )
    op.create_index(op.f("ix_hub_incidents_key"), "hub_incidents", ["key"])
    op.create_index(op.f("ix_hub_incidents_opened_at"), "hub_incidents", ["opened_at"])
    op.create_table(
        "hub_incident_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["hub_incidents.id"],
            name=op.f("fk_hub_incident_notices_incident_id_hub_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_incident_notices")),
        sa.UniqueConstraint(
            "incident_id",
            "change",
            "channel",
            name=op.f("uq_hub_incident_notices_incident_id_change_channel"),
        ),
    )
    op.create_index("ix_hub_incident_notices_due", "hub_incident_notices", ["sent_at", "next_at"])


def downgrade() -> None:
    op.drop_table("hub_incident_notices")
    op.drop_table("hub_incidents")
