"""The web entry point: server-rendered pages (dashboard, project, approval link) and, beside it, the REST API.

Who is at the door: ``session`` (sign-in rows and the gate in front of every page), ``signin`` (local accounts),
``sso`` (OpenID Connect), ``csrf``, ``headers`` (security headers on every response), ``refusals`` (audited,
rate-limited refusals) and ``throttle`` (failed sign-ins). See docs/security.md.

Like ``flows/``, this package sits on top: it calls the use cases in ``usecases.services`` and
``usecases.approvals``, reads ``models`` and renders through ``notifications``; nothing imports ``web``.
Prefect is never imported when these modules load (it costs about a second); only a deciding vote on a
server with a Prefect API configured brings it in, in a background task.
"""
