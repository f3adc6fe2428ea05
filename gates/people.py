"""People as actors, under the names doors import: they live in ``gates/usecases/people.py``."""

from __future__ import annotations

from phasegate.gates.usecases.people import (
    ANONYMOUS,
    add_person,
    awaiting_first_admin,
    bootstrap_admin,
    claimed_actor,
    disable_person,
    get_person,
    login_actor,
    permit_credentials_act,
    permit_token_act,
    person_actor,
    require_free_login,
    update_person,
)

__all__ = [
    "ANONYMOUS",
    "add_person",
    "awaiting_first_admin",
    "bootstrap_admin",
    "claimed_actor",
    "disable_person",
    "get_person",
    "login_actor",
    "permit_credentials_act",
    "permit_token_act",
    "person_actor",
    "require_free_login",
    "update_person",
]
