"""hub_events: indexes for the alert round's receipts of the last day and the overview's failures of a month

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 23:45:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hub_events", schema=None) as batch_op:
        batch_op.create_index("ix_hub_events_flow_event_at", ["flow_event", "at"], unique=False)
        batch_op.create_index("ix_hub_events_month_outcome", ["month", "outcome"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hub_events", schema=None) as batch_op:
        batch_op.drop_index("ix_hub_events_month_outcome")
        batch_op.drop_index("ix_hub_events_flow_event_at")
