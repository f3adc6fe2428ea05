"""A page's body: what it shows of the portfolio, the same for every reader, rendered once and kept.

Why: once the dashboard and ``/reports`` kept what they read and computed per committed state
(``usecases.memo``), rendering their HTML on every request (hundreds of rows, charts, bands) was most of what a
request cost, and with eight readers on two busy cores that cost queues into a p99 of hundreds of milliseconds
(issue #17). The body is now rendered once per key and served as the same bytes until the key changes.

What keeps one reader's page out of another's: a page is two templates. The body (``_<page>_body.html``) is
rendered from a context built for it alone, holding the portfolio and the words of a language, never the
request; whoever is signed in, the sign-out form's token and the CSRF cookie live only in the page's shell
(``base.html``'s header, ``web.pages.render``), rendered on every request around the kept body. Templates run
with ``StrictUndefined``, so a body that started using ``me`` or a token would fail to render, not leak.

The key is the caller's: everything the body shows is a function of it. Pages over the portfolio key by the
change stamp read before any data (a commit elsewhere gives the next request a new stamp, hence a new body),
the day, the language, the query, and whatever else they derive from the clock (the dashboard's ages of pending
rounds). Bodies of a stamp older than the newest asked for are dropped (``usecases.memo``). Without a stamp (an
in-memory database) nothing is kept.

No conditional GET (an ETag from the stamp): every page goes out with ``Cache-Control: no-store``
(``web.headers``: a portfolio must not stay in a browser's cache after its reader signs out), so a browser never
holds a copy to revalidate, and a 304 would save nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from phasegate.flows.runtime import Runtime

SLOT = Markup("<!--phasegate:page-body-->")
"""Where a shell's ``{{ body }}`` goes: the shell is rendered around this mark and the kept bytes are put in its
place (``web.pages.render``). Only markup from a template can write it: anything from a request is escaped."""


@dataclass(frozen=True)
class Body:
    """A kept body, encoded once (UTF-8): a request joins these bytes to its own shell's instead of re-encoding
    them; only the bytes are kept (a 500-row page is about 0.5 MB)."""

    encoded: bytes


def body(
    rt: Runtime,
    template: str,
    shared: Callable[[], Mapping[str, Any]],
    *,
    key: Hashable,
    version: str | None,
) -> Body:
    """``template`` rendered from ``shared()`` (nothing about the reader in it), kept per ``key`` and ``version``
    (``Runtime.change_stamp``, read before the data ``shared`` returns); rendered afresh when ``version`` is None."""

    def rendered() -> Body:
        from phasegate.web.pages import ENV

        return Body(ENV.get_template(template).render(**shared()).encode("utf-8"))

    if version is None:
        return rendered()
    return rt.bodies.get((template, version, key), rendered, version=version)


def around(shell: str, kept: Body) -> bytes:
    """The page: ``shell`` (rendered with ``body=SLOT``) with ``kept`` in the slot."""
    head, tail = shell.split(SLOT, 1)
    return b"".join((head.encode("utf-8"), kept.encoded, tail.encode("utf-8")))
