"""Hub tables: flows, payloads, messages, correlations, keys, timers, events

Revision ID: 0001
Revises:
Create Date: 2026-11-21 22:28:27.326497

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table(
        "hub_flows",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=True),
        sa.Column("has_letter", sa.Boolean(), nullable=False),
        sa.Column("sender_gln", sa.String(length=18), nullable=True),
        sa.Column("receiver_gln", sa.String(length=18), nullable=True),
        sa.Column("letter_id", sa.String(length=64), nullable=True),
        sa.Column("envelope_id", sa.String(length=64), nullable=True),
        sa.Column("bundle_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("receipt_expected", sa.Boolean(), nullable=False),
        sa.Column("patient_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_flows")),
    )
    with op.batch_alter_table("hub_flows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_flows_bundle_id"), ["bundle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_flows_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_flows_envelope_id"), ["envelope_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_flows_letter_id"), ["letter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_flows_patient_key"), ["patient_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_flows_receiver_gln"), ["receiver_gln"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_flows_sender_gln"), ["sender_gln"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_flows_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_flows_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "hub_payloads",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_hub_payloads")),
    )
    op.create_table(
        "hub_correlations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("oioxml_kind", sa.String(length=16), nullable=False),
        sa.Column("oioxml_envelope_id", sa.String(length=64), nullable=True),
        sa.Column("oioxml_letter_id", sa.String(length=64), nullable=True),
        sa.Column("oioxml_version_code", sa.String(length=16), nullable=True),
        sa.Column("bundle_id", sa.String(length=64), nullable=True),
        sa.Column("message_header_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["hub_flows.id"], name=op.f("fk_hub_correlations_flow_id_hub_flows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_correlations")),
    )
    with op.batch_alter_table("hub_correlations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_correlations_bundle_id"), ["bundle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_correlations_flow_id"), ["flow_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_hub_correlations_message_header_id"), ["message_header_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hub_correlations_oioxml_envelope_id"), ["oioxml_envelope_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hub_correlations_oioxml_letter_id"), ["oioxml_letter_id"], unique=False
        )

    op.create_table(
        "hub_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("flow_event", sa.String(length=32), nullable=True),
        sa.Column("subtype", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=2), nullable=False),
        sa.Column("failure", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=512), nullable=True),
        sa.Column("cause", sa.String(length=64), nullable=True),
        sa.Column("receipt", sa.String(length=8), nullable=True),
        sa.Column("route", sa.String(length=16), nullable=True),
        sa.Column("sender_gln", sa.String(length=18), nullable=True),
        sa.Column("receiver_gln", sa.String(length=18), nullable=True),
        sa.Column("sender_sor", sa.String(length=32), nullable=True),
        sa.Column("receiver_sor", sa.String(length=32), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("envelope_id", sa.String(length=64), nullable=True),
        sa.Column("orig_message_id", sa.String(length=64), nullable=True),
        sa.Column("message_type", sa.String(length=32), nullable=True),
        sa.Column("message_version", sa.String(length=32), nullable=True),
        sa.Column("state_from", sa.String(length=32), nullable=True),
        sa.Column("state_to", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["flow_id"], ["hub_flows.id"], name=op.f("fk_hub_events_flow_id_hub_flows")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_events")),
        sa.UniqueConstraint("flow_id", "seq", name=op.f("uq_hub_events_flow_id_seq")),
    )
    with op.batch_alter_table("hub_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_events_envelope_id"), ["envelope_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_events_message_id"), ["message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_events_month"), ["month"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_events_orig_message_id"), ["orig_message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_events_receiver_gln"), ["receiver_gln"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_events_sender_gln"), ["sender_gln"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_events_step"), ["step"], unique=False)

    op.create_table(
        "hub_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("namespace", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["flow_id"], ["hub_flows.id"], name=op.f("fk_hub_keys_flow_id_hub_flows")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_keys")),
        sa.UniqueConstraint("namespace", "value", name=op.f("uq_hub_keys_namespace_value")),
    )
    with op.batch_alter_table("hub_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_keys_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_keys_flow_id"), ["flow_id"], unique=False)

    op.create_table(
        "hub_messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("envelope_id", sa.String(length=64), nullable=True),
        sa.Column("letter_id", sa.String(length=64), nullable=True),
        sa.Column("sender_gln", sa.String(length=18), nullable=True),
        sa.Column("receiver_gln", sa.String(length=18), nullable=True),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["hub_flows.id"], name=op.f("fk_hub_messages_flow_id_hub_flows")
        ),
        sa.ForeignKeyConstraint(
            ["payload_sha256"],
            ["hub_payloads.sha256"],
            name=op.f("fk_hub_messages_payload_sha256_hub_payloads"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_messages")),
    )
    with op.batch_alter_table("hub_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_messages_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_messages_envelope_id"), ["envelope_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_messages_flow_id"), ["flow_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_messages_letter_id"), ["letter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_messages_payload_sha256"), ["payload_sha256"], unique=False)
        batch_op.create_index("ix_hub_messages_pending", ["direction", "delivered_at"], unique=False)

    op.create_table(
        "hub_timers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["flow_id"], ["hub_flows.id"], name=op.f("fk_hub_timers_flow_id_hub_flows")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_timers")),
    )
    with op.batch_alter_table("hub_timers", schema=None) as batch_op:
        batch_op.create_index("ix_hub_timers_due", ["status", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_hub_timers_flow_id"), ["flow_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table("hub_timers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_timers_flow_id"))
        batch_op.drop_index("ix_hub_timers_due")

    op.drop_table("hub_timers")
    with op.batch_alter_table("hub_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_hub_messages_pending")
        batch_op.drop_index(batch_op.f("ix_hub_messages_payload_sha256"))
        batch_op.drop_index(batch_op.f("ix_hub_messages_letter_id"))
        batch_op.drop_index(batch_op.f("ix_hub_messages_flow_id"))
        batch_op.drop_index(batch_op.f("ix_hub_messages_envelope_id"))
        batch_op.drop_index(batch_op.f("ix_hub_messages_created_at"))

    op.drop_table("hub_messages")
    with op.batch_alter_table("hub_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_keys_flow_id"))
        batch_op.drop_index(batch_op.f("ix_hub_keys_created_at"))

    op.drop_table("hub_keys")
    with op.batch_alter_table("hub_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_events_step"))
        batch_op.drop_index(batch_op.f("ix_hub_events_sender_gln"))
        batch_op.drop_index(batch_op.f("ix_hub_events_receiver_gln"))
        batch_op.drop_index(batch_op.f("ix_hub_events_orig_message_id"))
        batch_op.drop_index(batch_op.f("ix_hub_events_month"))
        batch_op.drop_index(batch_op.f("ix_hub_events_message_id"))
        batch_op.drop_index(batch_op.f("ix_hub_events_envelope_id"))
        batch_op.drop_index(batch_op.f("ix_hub_events_at"))

    op.drop_table("hub_events")
    with op.batch_alter_table("hub_correlations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_correlations_oioxml_letter_id"))
        batch_op.drop_index(batch_op.f("ix_hub_correlations_oioxml_envelope_id"))
        batch_op.drop_index(batch_op.f("ix_hub_correlations_message_header_id"))
        batch_op.drop_index(batch_op.f("ix_hub_correlations_flow_id"))
        batch_op.drop_index(batch_op.f("ix_hub_correlations_bundle_id"))

    op.drop_table("hub_correlations")
    op.drop_table("hub_payloads")
    with op.batch_alter_table("hub_flows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_flows_updated_at"))
        batch_op.drop_index(batch_op.f("ix_hub_flows_state"))
        batch_op.drop_index(batch_op.f("ix_hub_flows_sender_gln"))
        batch_op.drop_index(batch_op.f("ix_hub_flows_receiver_gln"))
        batch_op.drop_index(batch_op.f("ix_hub_flows_patient_key"))
        batch_op.drop_index(batch_op.f("ix_hub_flows_letter_id"))
        batch_op.drop_index(batch_op.f("ix_hub_flows_envelope_id"))
        batch_op.drop_index(batch_op.f("ix_hub_flows_created_at"))
        batch_op.drop_index(batch_op.f("ix_hub_flows_bundle_id"))

    op.drop_table("hub_flows")
