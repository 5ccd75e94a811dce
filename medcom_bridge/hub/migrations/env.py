"""Alembic environment for the hub. Run through `medcom_bridge.hub.store.migrate`, which passes a connection.

The migrations live inside the package so that an installed hub can upgrade its own database.
"""

from __future__ import annotations

from alembic import context

from medcom_bridge.hub.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when someone runs the alembic CLI directly
    raise RuntimeError("run migrations through medcom_bridge.hub.store.migrate(engine)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
