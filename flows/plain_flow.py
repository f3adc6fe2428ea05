"""A Prefect flow whose plain parameters reach the API without FastAPI's encoder.

Every phasegate flow takes strings (a project key, a round id) or nothing. Prefect serialises flow
parameters with ``fastapi.encoders.jsonable_encoder``, and importing it loads FastAPI and Starlette:
about 0.35 s of the 2 s a `gate review` or a deciding `vote` may take from the shell (bench/cli_latency.py).
JSON scalars need no encoding, so they are passed through as they are; anything else still goes to
Prefect's own encoder.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Flow

P = ParamSpec("P")
R = TypeVar("R")

_SCALARS = (str, int, float, bool, type(None))


class PlainFlow(Flow[P, R]):
    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        if all(type(value) in _SCALARS for value in parameters.values()):
            return dict(parameters)
        return super().serialize_parameters(parameters)


def plain_flow(*, name: str) -> Callable[[Callable[P, R]], PlainFlow[P, R]]:
    """``@flow(name=..., log_prints=False)`` for flows whose parameters are JSON scalars.

    Every phasegate flow makes or sends approval links, so each run first checks that the process has a real
    secret key (``models.keys.secret_key``): a worker without one fails the run at once, saying how to
    provision it, instead of opening rounds whose invitations can never be signed.
    """

    def decorate(fn: Callable[P, R]) -> PlainFlow[P, R]:
        @functools.wraps(fn)
        def keyed(*args: P.args, **kwargs: P.kwargs) -> R:
            from models.keys import secret_key
            from models.settings import Settings

            secret_key(Settings())  # before the runtime: a refused run opens no database
            return fn(*args, **kwargs)

        return PlainFlow(keyed, name=name, log_prints=False)

    return decorate
