"""hub_events.month is the Danish (Europe/Copenhagen) calendar month; an index for the monthly statistics

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 23:00:00

"""

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
# Restated here rather than imported from `medcom_bridge.localtime`: a migration must keep meaning what it
# meant when it was written.
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def _next(month: str) -> str:
    year, mon = (int(p) for p in month.split("-"))
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def _window(month: str) -> tuple[datetime, datetime]:
    """The instants that belong to Danish month `month` but to the UTC month before it: from Copenhagen
    midnight on the 1st (22:00 or 23:00 UTC the day before) to UTC midnight."""
    year, mon = (int(p) for p in month.split("-"))
    danish = datetime(year, mon, 1, tzinfo=COPENHAGEN).astimezone(UTC)
    return danish, datetime(year, mon, 1, tzinfo=UTC)


def upgrade() -> None:
    events = sa.table(
        "hub_events",
        sa.column("id", sa.String),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("month", sa.String),
    )
    conn = op.get_bind()
    # Only the last one or two hours of each UTC month change month (Copenhagen is UTC+1 or UTC+2), so
    # rather than rewriting the whole log, visit those windows (the `at` index) in batches. Idempotent: a row
    # already carrying its Danish month is not selected again, and a run cut short just continues.
    months = sorted(m for (m,) in conn.execute(sa.select(events.c.month).distinct()) if m)
    for month in sorted({_next(m) for m in months}):
        start, end = _window(month)
        while True:
            ids = list(
                conn.execute(
                    sa.select(events.c.id)
                    .where(events.c.at >= start, events.c.at < end, events.c.month != month)
                    .limit(BATCH)
                ).scalars()
            )
            if not ids:
                break
            conn.execute(sa.update(events).where(events.c.id.in_(ids)).values(month=month))
    with op.batch_alter_table("hub_events", schema=None) as batch_op:
        batch_op.create_index("ix_hub_events_month_flow_event", ["month", "flow_event"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hub_events", schema=None) as batch_op:
        batch_op.drop_index("ix_hub_events_month_flow_event")
    # The months stay Danish: the UTC month of an event is `at`, which is unchanged.
