"""The dashboard's portfolio table: filter and sort the report's rows by query parameters, server side.

Why server side: the page works without scripts, the same query gives the same CSV or XLSX download, and a
sorted column is a link anyone can share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from phasegate.gates.portfolio import PortfolioRow
from phasegate.gates.vocabulary.errors import InputError

SORT_KEYS: Mapping[str, Callable[[PortfolioRow], Any]] = {
    "project": lambda r: r.key,
    "name": lambda r: r.name.lower(),
    "stage": lambda r: (r.template_id, r.stage_id),
    "status": lambda r: r.status,
    "sponsor": lambda r: r.sponsor.lower(),
    "cpi": lambda r: r.cpi,
    "spi": lambda r: r.spi,
    "eac": lambda r: r.eac,
    "bac": lambda r: r.bac,
    "next_gate_due": lambda r: r.next_gate_due,
    "open_conditions": lambda r: r.open_conditions,
}
STATUSES = ("active", "on_hold", "killed", "completed")
BANDS = ("green", "amber", "red", "unknown")
SHOWN = 500
"""Rows a page shows; the downloads carry every row that matches."""


@dataclass(frozen=True)
class TableQuery:
    q: str = ""
    status: str = ""
    band: str = ""
    sort: str = "project"
    desc: bool = False

    def params(self, **change: Any) -> dict[str, str]:
        values = {"q": self.q, "status": self.status, "band": self.band, "sort": self.sort} | {
            "dir": "desc" if self.desc else "asc"
        }
        values |= {k: str(v) for k, v in change.items()}
        return {k: v for k, v in values.items() if v}


def parse_query(params: Mapping[str, str]) -> TableQuery:
    """The table's query from request parameters; ``InputError`` naming the parameter and what is allowed."""
    sort = params.get("sort") or "project"
    if sort not in SORT_KEYS:
        raise InputError(f"sort: {sort!r} is not a column; use one of: {', '.join(SORT_KEYS)}")
    direction = params.get("dir") or "asc"
    if direction not in ("asc", "desc"):
        raise InputError(f"dir: {direction!r}; use asc or desc")
    status = params.get("status") or ""
    if status and status not in STATUSES:
        raise InputError(f"status: {status!r}; use one of: {', '.join(STATUSES)}")
    band = params.get("band") or ""
    if band and band not in BANDS:
        raise InputError(f"band: {band!r}; use one of: {', '.join(BANDS)}")
    return TableQuery(
        q=(params.get("q") or "").strip()[:100], status=status, band=band, sort=sort, desc=direction == "desc"
    )


def select_rows(rows: Sequence[PortfolioRow], query: TableQuery) -> list[PortfolioRow]:
    """Rows matching the text (key, name, sponsor, stage), status and band (either dimension), sorted; rows
    without the sorted figure (no CPI yet) come last in either direction."""
    needle = query.q.lower()
    kept = [
        r
        for r in rows
        if (not needle or any(needle in v.lower() for v in (r.key, r.name, r.sponsor, r.stage_name, r.stage_name_zh)))
        and (not query.status or r.status == query.status)
        and (not query.band or query.band in (r.budget_rag, r.schedule_rag))
    ]
    key = SORT_KEYS[query.sort]
    present = sorted((r for r in kept if key(r) is not None), key=lambda r: (key(r), r.key), reverse=query.desc)
    return present + sorted((r for r in kept if key(r) is None), key=lambda r: r.key)  # no figure: always last
