"""The security tables, `api_tokens` and `audit_log`, and the triggers that keep `audit_log` append-only.

`add_tables(metadata)` puts both tables into a MetaData (the hub's, so they share its naming convention and
migrations); `upgrade(connection)`/`downgrade(connection)` are the migration body (`hub/migrations/versions/
0002_security.py` calls them). The append-only rule is the database's, not only ours: an UPDATE, DELETE (or on
PostgreSQL a TRUNCATE) of `audit_log` raises, whoever issues it. On PostgreSQL the owner of a table can still
drop a trigger; in production the hub should connect as a role that does not own the tables (README).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    text,
)

APPEND_ONLY_MESSAGE = "audit_log is append-only"

NAME = 64
ROLE = 16
ACTOR = 128
REMOTE = 64  # an IPv6 address with zone and port fits
ACTION = 32
OBJECT_ID = 64


@dataclass(frozen=True, slots=True)
class SecurityTables:
    api_tokens: Table
    audit_log: Table


def add_tables(metadata: MetaData) -> SecurityTables:
    """Define `api_tokens` and `audit_log` in `metadata` (once per MetaData)."""
    api_tokens = Table(
        "api_tokens",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("name", String(NAME), nullable=False, unique=True),
        # SHA-256 of the token (hex). A token has 256 random bits, so no salt or slow hash is needed.
        Column("token_hash", String(64), nullable=False, unique=True),
        Column("role", String(ROLE), nullable=False),
        Column("organisations", JSON, nullable=False),  # list of EANs; empty unless role = organisation
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("revoked_at", DateTime(timezone=True), nullable=True),
    )
    audit_log = Table(
        "audit_log",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False, index=True),
        Column("actor", String(ACTOR), nullable=False, index=True),
        Column("role", String(ROLE), nullable=True),
        Column("via", String(ROLE), nullable=True),
        Column("remote", String(REMOTE), nullable=True),
        Column("action", String(ACTION), nullable=False, index=True),
        Column("outcome", String(ROLE), nullable=False),
        Column("object_type", String(ACTION), nullable=True),
        Column("object_id", String(OBJECT_ID), nullable=True, index=True),
        Column("details", JSON, nullable=True),  # ids and criteria only, never patient data (audit.py)
    )
    return SecurityTables(api_tokens, audit_log)


# Our own MetaData for code that uses the tables without the hub's (the CLI's token commands, tests).
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)
TABLES = add_tables(metadata)

_SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
    for verb in ("UPDATE", "DELETE")
)
_PG_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END $$",
    "CREATE OR REPLACE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)
_SQLITE_DROP = ("DROP TRIGGER IF EXISTS audit_log_no_update", "DROP TRIGGER IF EXISTS audit_log_no_delete")
_PG_DROP = (
    "DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP FUNCTION IF EXISTS audit_log_append_only()",
)


def append_only_ddl(dialect: str) -> tuple[str, ...]:
    """The statements that make `audit_log` append-only on `dialect` ('sqlite' or 'postgresql')."""
    if dialect == "sqlite":
        return _SQLITE_TRIGGERS
    if dialect == "postgresql":
        return _PG_TRIGGERS
    raise ValueError(f"no append-only guarantee for the {dialect} dialect; use SQLite or PostgreSQL")


def upgrade(connection: Connection, tables: SecurityTables = TABLES) -> None:
    """Create both tables and the append-only triggers (the migration's `upgrade`). Idempotent, so the
    token commands may call it on a database whose migrations do not know these tables yet."""
    tables.api_tokens.create(connection, checkfirst=True)
    tables.audit_log.create(connection, checkfirst=True)
    for statement in append_only_ddl(connection.dialect.name):
        connection.execute(text(statement))


def downgrade(connection: Connection, tables: SecurityTables = TABLES) -> None:
    for statement in _SQLITE_DROP if connection.dialect.name == "sqlite" else _PG_DROP:
        connection.execute(text(statement))
    tables.audit_log.drop(connection)
    tables.api_tokens.drop(connection)
