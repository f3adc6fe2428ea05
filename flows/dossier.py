"""The gate dossier as files: ``KEY-dossier.json`` for machines and ``KEY-dossier.html`` for people.

The HTML stands alone (one file, inline style, no scripts, fonts or images from elsewhere) so that an
archived copy reads the same in seven years. Headings are bilingual (English · 中文); every value from the
database is escaped, since reasons, names and evidence are typed by users. Each hash check is shown next
to the hash it checks, and a failed check is marked where it happened, not only in the summary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from phasegate.models.dossier import Dossier, DossierEntry, DossierReview, DossierRound

_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}code,pre{font-family:ui-monospace,monospace;font-size:.85em}
pre{white-space:pre-wrap;word-break:break-all;background:#fafafa;padding:.5em}
.ok{color:#176b2c;font-weight:bold}.bad{color:#b00020;font-weight:bold}
tr.bad td{background:#fde7ea}.banner{padding:.6em 1em;border:2px solid}
"""


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return escape(value.isoformat())
    return escape(str(value))


def _mark(ok: bool) -> str:
    return '<span class="ok">✓ OK · 通过</span>' if ok else '<span class="bad">✗ FAILED · 失败</span>'


def _hash(value: str | None) -> str:
    return f"<code>{_text(value)}</code>"


def _table(headers: Sequence[str], rows: Iterable[tuple[bool, Sequence[str]]]) -> str:
    """A table whose cells are already-escaped HTML; a row marked False is highlighted as failed."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(
        f"<tr{'' if ok else ' class=bad'}>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"
        for ok, cells in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _json_block(summary: str, value: Any) -> str:
    dumped = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    return f"<details><summary>{summary}</summary><pre>{escape(dumped)}</pre></details>"


def _reviews(reviews: Sequence[DossierReview]) -> str:
    rows = [
        (
            r.hash_ok and r.audit_ok,
            [
                _hash(str(r.id)),
                _text(r.gate_id),
                _text(r.recommendation),
                _text(r.created_at),
                _hash(r.evidence_hash) + "<br>" + _hash(r.recomputed_hash),
                _mark(r.hash_ok),
                _mark(r.audit_ok) + (f" (#{r.audit_seq})" if r.audit_seq else ""),
            ],
        )
        for r in reviews
    ]
    table = _table(
        [
            "Review · 评审",
            "Gate · 阶段门",
            "Recommendation · 建议",
            "Time (UTC) · 时间",
            "Evidence hash, stored / recomputed · 证据哈希（存储 / 重算）",
            "Hash · 哈希校验",
            "In audit log · 审计记录",
        ],
        rows,
    )
    details = "".join(
        _json_block(
            f"Evaluation and evidence of review {_text(r.id)} · 评审与证据",
            {"evaluation": r.evaluation, "evidence": r.evidence},
        )
        for r in reviews
    )
    return table + details


def _round(rnd: DossierRound) -> str:
    facts = _table(
        ["Field · 字段", "Value · 值"],
        [
            (True, ["Round · 审批轮次", _hash(str(rnd.id))]),
            (True, ["Gate · 阶段门", _text(rnd.gate_id)]),
            (True, ["Policy · 审批规则", _text(rnd.policy)]),
            (True, ["Status / decision · 状态 / 决策", f"{_text(rnd.status)} / {_text(rnd.decision)}"]),
            (True, ["Opened (UTC) · 发起时间", _text(rnd.opened_at)]),
            (True, ["Resolved (UTC) · 完成时间", _text(rnd.resolved_at)]),
            (True, ["Requested by · 发起人", _text(rnd.requested_by)]),
            (rnd.review_ok, ["Evidence hash · 证据哈希", _hash(rnd.evidence_hash) + " " + _mark(rnd.review_ok)]),
        ],
    )
    seats = _table(
        ["Approver · 审批人", "Role · 角色", "Order · 顺序", "Closed · 已关闭"],
        [
            (
                True,
                [
                    _text(s.get("person_id")),
                    _text(s.get("role")),
                    _text(s.get("order")),
                    "yes · 是" if s.get("person_id") in rnd.closed_seats else "",
                ],
            )
            for s in rnd.seats
        ],
    )
    votes = _table(
        [
            "Signer · 签署人",
            "On behalf of · 代表",
            "Act · 行为",
            "Decision · 决策",
            "Reason · 理由",
            "Time (UTC) · 时间",
            "Evidence hash · 证据哈希",
            "Evidence · 证据校验",
            "Audit · 审计校验",
        ],
        [
            (
                v.evidence_ok and v.audit_ok,
                [
                    _text(v.signer_id),
                    _text(v.on_behalf_of),
                    _text(v.kind) + (" (superseded · 已作废)" if v.superseded else ""),
                    _text(v.decision),
                    _text(v.reason) + "".join(f"<br>• {_text(c.get('text'))}" for c in v.conditions),
                    _text(v.cast_at),
                    _hash(v.evidence_hash),
                    _mark(v.evidence_ok),
                    _mark(v.audit_ok)
                    + (f" (#{v.audit_seq})" if v.audit_seq else "")
                    + (f"<br>{_text(', '.join(v.audit_mismatch))}" if v.audit_mismatch else ""),
                ],
            )
            for v in rnd.votes
        ],
    )
    policy = _json_block("Policy in force · 生效的审批规则", rnd.policy_spec)
    return (
        f"<h3>Round · 审批轮次 {_text(rnd.id)}</h3>{facts}{policy}"
        f"<h4>Seats · 席位</h4>{seats}<h4>Votes · 投票</h4>{votes}"
    )


def _audit(entries: Sequence[DossierEntry]) -> str:
    return _table(
        [
            "Seq · 序号",
            "Time (UTC) · 时间",
            "Actor · 操作人",
            "On behalf of · 代表",
            "Action · 操作",
            "Entity · 对象",
            "Payload · 内容",
            "Hash / previous · 哈希 / 前一哈希",
            "Check · 校验",
        ],
        [
            (
                e.hash_ok and e.linked_ok,
                [
                    _text(e.seq),
                    _text(e.at),
                    _text(e.actor),
                    _text(e.payload.get("on_behalf_of")),
                    _text(e.action),
                    _text(e.entity),
                    f"<pre>{escape(json.dumps(e.payload, ensure_ascii=False, sort_keys=True, indent=1))}</pre>",
                    _hash(e.hash) + "<br>" + _hash(e.prev_hash),
                    "hash · 哈希 " + _mark(e.hash_ok) + "<br>link · 链接 " + _mark(e.linked_ok),
                ],
            )
            for e in entries
        ],
    )


def render_dossier_html(dossier: Dossier) -> str:
    """The dossier as one standalone HTML page with bilingual headings; every stored value is escaped."""
    p, chain = dossier.project, dossier.chain
    verdict = (
        '<p class="banner ok">Every hash re-verified · 所有哈希均已重新校验通过</p>'
        if dossier.verified
        else '<p class="banner bad">Verification FAILED · 校验失败</p><ul>'
        + "".join(f"<li>{_text(problem.message)}</li>" for problem in dossier.problems)
        + "</ul>"
    )
    project = _table(
        ["Field · 字段", "Value · 值"],
        [
            (True, [label, value])
            for label, value in (
                ("Project · 项目", f"{_text(p.key)} — {_text(p.name)}"),
                ("Template · 生命周期模板", _hash(p.template)),
                ("Sponsor · 发起人", _text(p.sponsor_id)),
                ("Manager · 项目经理", _text(p.manager_id)),
                ("Status / stage · 状态 / 阶段", f"{_text(p.status)} / {_text(p.stage_id)}"),
                ("Budget · 预算", f"{_text(p.budget)} {_text(p.currency)}"),
                ("Exported (UTC) · 导出时间", _text(dossier.generated_at)),
            )
        ],
    )
    chain_table = _table(
        ["Field · 字段", "Value · 值"],
        [
            (chain.intact, ["Whole chain · 整条审计链", _mark(chain.intact)]),
            (True, ["Entries · 条目数", _text(chain.entries)]),
            (True, ["Head · 链头", f"{_text(chain.head_seq)} {_hash(chain.head_hash)}"]),
            (chain.first_break_seq is None, ["First break · 首个断点", _text(chain.first_break_reason)]),
        ],
    )
    decisions = _table(
        [
            "Round · 审批轮次",
            "Gate · 阶段门",
            "Decision · 决策",
            "Decided by · 决策人",
            "Reason · 理由",
            "Time (UTC) · 时间",
            "Audit · 审计校验",
        ],
        [
            (
                d.audit_ok,
                [
                    _hash(str(d.round_id)),
                    _text(d.gate_id),
                    _text(d.decision),
                    _text(", ".join(d.decided_by)),
                    _text(d.reason),
                    _text(d.decided_at),
                    _mark(d.audit_ok) + (f" (#{d.audit_seq})" if d.audit_seq else ""),
                ],
            )
            for d in dossier.decisions
        ],
    )
    conditions = _table(
        ["Condition · 条件", "Owner · 负责人", "Due · 截止", "Verification · 验证方式", "Status · 状态"],
        [
            (True, [_text(c.text), _text(c.owner_id), _text(c.due_on), _text(c.verification), _text(c.status)])
            for c in dossier.conditions
        ],
    )
    title = f"Gate dossier · 阶段门审计档案: {_text(p.key)}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{title}</h1>{verdict}"
        f"<h2>Project · 项目</h2>{project}"
        f"<h2>Audit chain · 审计链</h2>{chain_table}<p>{_text(dossier.how_to_verify)}</p>"
        f"<h2>Gate reviews · 阶段门评审</h2>{_reviews(dossier.reviews)}"
        f"<h2>Approval rounds · 审批轮次</h2>{''.join(_round(r) for r in dossier.rounds) or '<p>—</p>'}"
        f"<h2>Decisions · 决策</h2>{decisions}"
        f"<h2>Conditions · 条件</h2>{conditions}"
        f"<h2>Audit entries · 审计记录</h2>{_audit(dossier.audit)}"
        "</body></html>\n"
    )


def write_dossier(dossier: Dossier, out_dir: Path) -> tuple[Path, Path]:
    """Write ``KEY-dossier.json`` and ``KEY-dossier.html`` into ``out_dir`` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{dossier.project.key}-dossier.json"
    html_path = out_dir / f"{dossier.project.key}-dossier.html"
    json_path.write_text(json.dumps(dossier.as_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    html_path.write_text(render_dossier_html(dossier), encoding="utf-8")
    return json_path, html_path
