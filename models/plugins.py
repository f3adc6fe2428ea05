"""Organisation-specific criteria, found through the ``phasegate.criteria`` entry point group.

An installed package declares, in its own pyproject.toml::

    [project.entry-points."phasegate.criteria"]
    "acme.security_review" = "acme_gates.security:security_review"

The entry point's name is the criterion code templates use; the object is a function with the signature of
the built-in criteria: ``(definition, gate, template, evidence) -> CriterionResult``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from phasegate.gates.vocabulary.errors import PhasegateError

GROUP = "phasegate.criteria"
_CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


def plugin_criteria() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for entry in entry_points(group=GROUP):
        if not _CODE.match(entry.name):
            raise PhasegateError(
                f"plug-in criterion {entry.name!r} ({entry.value}): the name must be a dotted code like 'acme.check'",
                code="plugin.bad_code",
            )
        try:
            loaded = entry.load()
        except Exception as err:  # a broken plug-in must name itself, whatever it raised
            raise PhasegateError(
                f"plug-in criterion {entry.name!r} ({entry.value}) failed to load: {err}", code="plugin.load_failed"
            ) from err
        if not callable(loaded):
            raise PhasegateError(
                f"plug-in criterion {entry.name!r} ({entry.value}) is not callable", code="plugin.not_callable"
            )
        found[entry.name] = loaded
    return found
