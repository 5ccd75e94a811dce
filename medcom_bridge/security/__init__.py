"""Access control and audit for the hub's HTTP side (issue 11).

* `principals`: who is calling (admin, operator, organisation with its EANs) and what each role may do, as
  pure functions the routes call.
* `tokens`: API tokens (random, shown once, stored as a SHA-256 digest) and their table.
* `oidc`: OpenID Connect bearer JWTs from the hospital's identity provider, verified against its JWKS.
* `audit`: the append-only audit log (who, when, from where, what), enforced by the database.
* `schema`: the two tables and the triggers that make `audit_log` append-only, for the hub's migrations.

Browser-facing parts (headers, trusted hosts, CSRF, the session cookie, offline API docs) are in `web/`.
"""
