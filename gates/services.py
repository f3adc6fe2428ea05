"""The use cases for people, templates, projects, evidence and reviews, under the names every door imports.

They live in ``gates/usecases/`` (one module per capability); this module keeps ``services.start_review`` and its
siblings importable where the CLI, the flows, the web app, the tests and the benches already call them.
"""

from __future__ import annotations

from gates.usecases.evidence import (
    DocumentRegistration,
    ProjectData,
    adopt_document,
    check_document_target,
    collect_evidence,
    complete_milestone,
    documents_outside_store,
    project_data,
    record_cost,
    record_document_refusal,
    record_risks,
    record_scores,
    record_status,
    register_document,
    set_baseline,
    set_milestone,
)
from gates.usecases.exceptions import decide_exception, list_exceptions
from gates.usecases.lookups import (
    current_gate,
    project_roles,
    require_person,
    require_project,
    require_round,
    require_template,
)
from gates.usecases.messages import (
    approval_request,
    criteria_context,
    gate_packet,
    messages_for,
    org_notice,
    request_context,
)
from gates.usecases.monitoring import (
    GateDateReport,
    ProjectHealth,
    ScanReport,
    active_projects,
    gate_actions,
    rag_history,
    scan_projects,
)
from gates.usecases.people import add_person, require_free_login
from gates.usecases.projects import (
    ProjectView,
    assign_role,
    close_project,
    create_project,
    list_projects,
    project_view,
    resume_project,
)
from gates.usecases.result import SYSTEM, Result, UowFactory
from gates.usecases.reviews import (
    GateCheck,
    ReviewResult,
    assess_gate,
    check_gate,
    reassess_open_round,
    record_review,
    reviewable_gate,
    start_review,
)
from gates.usecases.rounds import get_round
from gates.usecases.templates import PublishResult, get_template, list_templates, publish_template
from gates.usecases.tolerances import ToleranceList, list_tolerances, set_tolerance

__all__ = [
    "SYSTEM",
    "DocumentRegistration",
    "GateCheck",
    "GateDateReport",
    "ProjectData",
    "ProjectHealth",
    "ProjectView",
    "PublishResult",
    "Result",
    "ReviewResult",
    "ScanReport",
    "ToleranceList",
    "UowFactory",
    "active_projects",
    "add_person",
    "adopt_document",
    "approval_request",
    "assess_gate",
    "assign_role",
    "check_document_target",
    "check_gate",
    "close_project",
    "collect_evidence",
    "complete_milestone",
    "create_project",
    "criteria_context",
    "current_gate",
    "decide_exception",
    "documents_outside_store",
    "gate_actions",
    "gate_packet",
    "get_round",
    "get_template",
    "list_exceptions",
    "list_projects",
    "list_templates",
    "list_tolerances",
    "messages_for",
    "org_notice",
    "project_data",
    "project_roles",
    "project_view",
    "publish_template",
    "rag_history",
    "reassess_open_round",
    "record_cost",
    "record_document_refusal",
    "record_review",
    "record_risks",
    "record_scores",
    "record_status",
    "register_document",
    "request_context",
    "require_free_login",
    "require_person",
    "require_project",
    "require_round",
    "require_template",
    "resume_project",
    "reviewable_gate",
    "scan_projects",
    "set_baseline",
    "set_milestone",
    "set_tolerance",
    "start_review",
]
