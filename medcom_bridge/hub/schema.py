"""The hub's tables (SQLAlchemy Core). The Alembic migrations in `migrations/` create exactly these.

Metadata is kept apart from payloads (users.md lesson 7): `payloads` holds each distinct document once, by
content hash; everything else is small rows with the indexed business keys operators search by (lesson 5):
envelope id, letter id, Bundle.id, sender/receiver GLN, state, dates. No plain CPR is ever stored; a flow may
carry a keyed hash of it (`patient_key`).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = 64  # envelope/letter ids: OIOXML 1-14 chars, UUIDs 36, urn:uuid: 45; room to spare
GLN = 18  # VANSEnvelope SenderID is a token of 1-18

flows = Table(
    "hub_flows",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("state", String(32), nullable=False, index=True),
    Column("route", String(16)),
    Column("has_letter", Boolean, nullable=False, default=False),
    Column("sender_gln", String(GLN), index=True),
    Column("receiver_gln", String(GLN), index=True),
    Column("letter_id", String(ID), index=True),
    Column("envelope_id", String(ID), index=True),
    Column("bundle_id", String(ID), index=True),
    Column("kind", String(32)),
    Column("receipt_expected", Boolean, nullable=False, default=True),
    Column("patient_key", String(64), index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
    Column("closed_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False, default=1),
)

payloads = Table(
    "hub_payloads",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary),  # None: the bytes are in the blob store (hub.blobs), by sha256
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Set when retention removed the bytes (row data and blob); digest and size stay (hub.retention).
    Column("pruned_at", DateTime(timezone=True)),
)

messages = Table(
    "hub_messages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("flow_id", String(36), ForeignKey("hub_flows.id"), nullable=False, index=True),
    Column("direction", String(3), nullable=False),  # in | out
    Column("role", String(32), nullable=False),
    Column("kind", String(32)),
    Column("envelope_id", String(ID), index=True),
    Column("letter_id", String(ID), index=True),
    Column("sender_gln", String(GLN)),
    Column("receiver_gln", String(GLN)),
    Column("payload_sha256", String(64), ForeignKey("hub_payloads.sha256"), nullable=False, index=True),
    Column("file_name", String(255)),
    Column("version", String(32)),  # identification: VersionCode or FHIR profile version
    Column("valid", Boolean),  # identification: no error finding
    Column("rules", String(512)),  # identification: rule ids of its errors (never values: no patient data)
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("delivered_at", DateTime(timezone=True)),
    Index("ix_hub_messages_pending", "direction", "delivered_at"),
)

correlations = Table(
    "hub_correlations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flow_id", String(36), ForeignKey("hub_flows.id"), nullable=False, index=True),
    Column("oioxml_kind", String(16), nullable=False),  # xdis91 | xbin01
    Column("oioxml_envelope_id", String(ID), index=True),
    Column("oioxml_letter_id", String(ID), index=True),
    Column("oioxml_version_code", String(16)),
    Column("bundle_id", String(ID), index=True),
    Column("message_header_id", String(ID), index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

keys = Table(
    "hub_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("namespace", String(32), nullable=False),
    Column("value", String(128), nullable=False),
    Column("flow_id", String(36), ForeignKey("hub_flows.id"), nullable=False, index=True),
    Column("message_id", String(36)),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    UniqueConstraint("namespace", "value"),
)

timers = Table(
    "hub_timers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flow_id", String(36), ForeignKey("hub_flows.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", String(10), nullable=False),  # pending | fired | cancelled
    Column("done_at", DateTime(timezone=True)),
    Index("ix_hub_timers_due", "status", "due_at"),
)

events = Table(
    "hub_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("flow_id", String(36), ForeignKey("hub_flows.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("month", String(7), nullable=False, index=True),  # YYYY-MM, Danish month (localtime.month_of)
    Column("step", String(32), nullable=False, index=True),
    Column("flow_event", String(32)),
    Column("subtype", String(32), nullable=False),
    Column("outcome", String(2), nullable=False),
    Column("failure", String(16)),
    Column("reason", String(512)),
    Column("cause", String(64)),
    Column("receipt", String(8)),
    Column("route", String(16)),
    Column("sender_gln", String(GLN), index=True),
    Column("receiver_gln", String(GLN), index=True),
    Column("sender_sor", String(32)),
    Column("receiver_sor", String(32)),
    Column("message_id", String(ID), index=True),
    Column("envelope_id", String(ID), index=True),
    Column("orig_message_id", String(ID), index=True),
    Column("message_type", String(32)),
    Column("message_version", String(32)),
    Column("state_from", String(32)),
    Column("state_to", String(32)),
    UniqueConstraint("flow_id", "seq"),
    # The monthly statistics select one figure (a few flow events) of a month: no scan of the month's log.
    Index("ix_hub_events_month_flow_event", "month", "flow_event"),
    # The alert round's receipts of the last day (`alerts.facts`): without it SQLite walks the whole log in
    # receiver order (bench/operations.py). The overview's failures of a month read only failure events.
    Index("ix_hub_events_flow_event_at", "flow_event", "at"),
    Index("ix_hub_events_month_outcome", "month", "outcome"),
)

#: The transactional outbox (issue 10): a row per "flow X has work at step S", written in the transaction that
#: made the work, published to the broker after that commit by `outbox.relay` and deleted once the broker
#: confirmed it. Only processes started with `--broker` write it.
outbox = Table(
    "hub_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flow_id", String(36), nullable=False),
    Column("step", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: Alert incidents (issue 12, `hub.alerts`): one row per episode of a condition. `open_key` is the condition's
#: key while the incident is open and NULL once resolved, so its unique constraint allows one open incident per
#: key however many processes evaluate at once (they insert-or-ignore), and any number of resolved ones.
incidents = Table(
    "hub_incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(160), nullable=False, index=True),
    Column("open_key", String(160), unique=True),
    Column("rule", String(32), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("summary", String(512), nullable=False),  # counts, GLNs, party and state names: no patient data
    Column("opened_at", DateTime(timezone=True), nullable=False, index=True),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("open_notified", Boolean, nullable=False, default=False),
    Column("resolve_notified", Boolean, nullable=False, default=False),
)

#: The notices of incidents (an outbox): one row per incident, change (opened/resolved) and channel, written
#: with the change; a process claims a row by moving `next_at` forward (a lease), sends it outside any
#: transaction and marks it sent, or leaves it for a later round with a backoff.
incident_notices = Table(
    "hub_incident_notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("hub_incidents.id"), nullable=False),
    Column("change", String(8), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("sent_at", DateTime(timezone=True)),
    Column("error", String(200)),  # the error's kind and status (masked), never a response body
    UniqueConstraint("incident_id", "change", "channel"),
    Index("ix_hub_incident_notices_due", "sent_at", "next_at"),
)

#: Reprocess lineage (issue 12): which flow (or quarantined file) was reprocessed as which new flow, by whom and
#: when. The old flow keeps its state (it was refused, and its sender was told so); this row and a trace event on
#: each side link old and new. Idempotency is the `reprocess` key in `hub_keys`, claimed in the same transaction.
lineage = Table(
    "hub_lineage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("old_flow_id", String(36), ForeignKey("hub_flows.id"), index=True),
    Column("source_file", String(255)),  # the quarantined file's name, when one was reprocessed by name
    Column("new_flow_id", String(36), ForeignKey("hub_flows.id"), nullable=False, index=True),
    Column("envelope_id", String(ID)),  # the new envelope id the reprocessed input was given
    Column("actor", String(128), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# API tokens and the audit log (issue 11): defined beside their rules in `medcom_bridge.security.schema`.
from medcom_bridge.security.schema import add_tables  # noqa: E402  (needs `metadata` above)

security_tables = add_tables(metadata)
