"""Incident-style alerts (issue 12): rules over the hub's facts, incidents that open once, stay quiet while they
last and resolve with a notice, delivered by webhook and e-mail.

Functional core: `config` (the `[alerts]` settings), `rules` (facts + config -> firing conditions), `incidents`
(open incidents + firing conditions -> open/resolve events), `notice` (the text of a notification). Imperative
shell: `facts` and `ledger` (SQL), `delivery` (HTTP and SMTP), `watch` (one round: gather, decide, store,
deliver). docs/alerts.md is the operator's reference.
"""
