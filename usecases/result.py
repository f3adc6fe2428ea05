"""What every use case shares: the unit-of-work factory it is given, the system actor's id, and frozen results."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from phasegate.usecases.ports import UnitOfWork

UowFactory = Callable[[], UnitOfWork]


SYSTEM = "system"


class Result(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)
