"""The relay of the transactional outbox (issue 10): rows committed by the hub's transactions go to the broker.

A transaction that makes work for a later step writes an outbox row with that work (`Tx.work`), so the row
exists exactly when the work does: nothing is published for a transaction that rolled back, and nothing is
lost when the broker is down at commit time. The relay takes rows no other relay holds (SKIP LOCKED),
publishes each with a publisher confirm, and deletes them in the same transaction. A crash or a lost
connection between the confirm and that commit publishes the rows again later: a hint twice, which changes
nothing (work.py).
"""

from __future__ import annotations

from collections.abc import Callable

from medcom_bridge.hub.store import Store, Tx
from medcom_bridge.hub.work import Hint, WorkStep, hints

RELAY_BATCH = 256
MAX_ROUNDS = 1000


def relay(store: Store, publish: Callable[[Hint], None], *, batch: int = RELAY_BATCH) -> int:
    """Publish every outbox row that is there now; how many were published. A broker error propagates
    (the rows of the failed round stay for the next relay)."""

    def one(tx: Tx) -> int:
        rows = tx.claim_outbox(limit=batch)
        for step in WorkStep:
            for hint in hints(step, [flow_id for _, flow_id, s in rows if s is step]):
                publish(hint)
        tx.drop_outbox([row_id for row_id, _, _ in rows])
        return len(rows)

    total = 0
    for _ in range(MAX_ROUNDS):
        done = store.run(one)
        total += done
        if done < batch:
            break
    return total
