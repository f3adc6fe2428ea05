"""Shared builders for approval tests: an it-pmo variant with another approval policy, and a project whose
first gate is ready (roles assigned, every required document registered with its sections and signed).

The documents are not on disk: their recorded sha256 is that of the file name, and ``probe`` answers the
same, so the gate sees them unchanged since approval.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import yaml

from phasegate.gates.vocabulary.commands import CreateProject, RegisterDocument
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.gates.vocabulary.template import LifecycleTemplate
from phasegate.models.template_yaml import load_template_text, shipped_templates
from phasegate.usecases import services
from phasegate.usecases.ports import UnitOfWork

TWO_OF_THREE = {"policy": "m_of_n", "m": 2, "approvers": ["sponsor", "finance", "pmo"]}
SIGNERS = {"sponsor": "sam", "pmo": "pam"}


def variant(policy: dict[str, Any], template_id: str) -> tuple[str, LifecycleTemplate]:
    """it-pmo with every gate's approval replaced by ``policy``, as YAML text and validated template."""
    source = next(s for s, tpl in shipped_templates() if tpl.id == "it-pmo")
    data = yaml.safe_load(source)
    data["id"] = template_id
    for gate in data["gates"]:
        gate["approval"] = policy
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return text, load_template_text(text, source=f"{template_id}.yaml")


def probe(path: str) -> str:
    return hashlib.sha256(path.rsplit("/", 1)[-1].encode()).hexdigest()


def add_ready_project(
    uow: Callable[[], UnitOfWork],
    now: Callable[[], datetime],
    key: str,
    *,
    template_id: str = "it-2of3",
    leave_out: Collection[str] = (),
    signers: Mapping[str, str] | None = None,
) -> None:
    """Sponsor sam, manager mgr, finance fin, pmo pam; the first gate's documents registered with their sections
    and signed by the role each names (``signers`` overrides a deliverable's signer), but for ``leave_out``."""
    services.create_project(
        CreateProject(
            key=key, template_id=template_id, name=key, sponsor_id="sam", manager_id="mgr", budget=Decimal(1000)
        ),
        uow=uow,
        now=now(),
        actor=SYSTEM_ACTOR,
    )
    services.assign_role(key, "finance", "fin", uow=uow, now=now(), actor=SYSTEM_ACTOR)
    services.assign_role(key, "pmo", "pam", uow=uow, now=now(), actor=SYSTEM_ACTOR)
    template = services.get_template(template_id, 1, uow=uow).template
    register_signed_documents(uow, now, key, template, leave_out=leave_out, signers=signers)


def register_signed_documents(
    uow: Callable[[], UnitOfWork],
    now: Callable[[], datetime],
    key: str,
    template: LifecycleTemplate,
    *,
    leave_out: Collection[str] = (),
    signers: Mapping[str, str] | None = None,
) -> None:
    """``template``'s first-gate documents for project ``key``, registered with their sections and signed by the
    role each names (sam as sponsor, pam as pmo; ``signers`` overrides a deliverable's signer), but for
    ``leave_out``."""
    for deliverable in template.gates[0].deliverables:
        if deliverable in leave_out:
            continue
        standard = template.deliverable(deliverable)
        services.register_document(
            RegisterDocument(
                project_key=key,
                deliverable_id=deliverable,
                path=f"/d/{deliverable}.md",
                sha256=probe(f"{deliverable}.md"),
                size=1,
                format="md",
                headings=standard.required_sections,
                approved_by=(signers or {}).get(deliverable, SIGNERS[standard.approver_role]),
            ),
            uow=uow,
            now=now(),
            actor=SYSTEM_ACTOR,
        )
