"""``phasegate report``: reports to management (gate analytics; the portfolio report joins it here)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer

from flows.cli.common import ActFor, Db, Json, acting, emit, now, runtime_for, sub_app

app = sub_app("Reports to management: gate analytics.")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _num(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


def gate_table(report: Any) -> list[str]:
    """The analytics as fixed-width lines: one per gate, then one per stage's cycle time."""
    lines = [
        f"Gate analytics as of {report.as_of}",
        f"{'template':<12} {'gate':<20} {'n':>3} {'pass':>5} {'recyc':>5} {'kill':>5} {'hold':>5} {'1st':>5} "
        f"{'lat.med':>8} {'lat.p90':>8} {'in SLA':>6} {'cond.':>6} {'auto/hand':>9}",
    ]
    for g in report.gates:
        lines.append(
            f"{g.template_id:<12} {g.gate_id:<20} {g.decided:>3} {_pct(g.pass_rate):>5} {_pct(g.recycle_rate):>5} "
            f"{_pct(g.kill_rate):>5} {_pct(g.hold_rate):>5} {_pct(g.first_time_pass_rate):>5} "
            f"{_num(g.latency_hours.median, 'h'):>8} {_num(g.latency_hours.p90, 'h'):>8} "
            f"{_pct(g.within_sla_rate):>6} {_pct(g.conditions_on_time_rate):>6} "
            f"{f'{g.reviews_automatic}/{g.reviews_manual}':>9}"
        )
    lines += ["", f"{'template':<12} {'stage':<20} {'n':>3} {'cycle med':>10} {'cycle p90':>10}"]
    for s in report.stages:
        lines.append(
            f"{s.template_id:<12} {s.stage_id:<20} {s.cycle_days.count:>3} "
            f"{_num(s.cycle_days.median, 'd'):>10} {_num(s.cycle_days.p90, 'd'):>10}"
        )
    return lines


@app.command("gates")
def report_gates(
    template: Annotated[str | None, typer.Option("--template", help="Only this template's gates")] = None,
    by: ActFor = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Per gate and template: pass/recycle/kill/hold rates, first-time pass, decision latency against SLA
    (median, p90), cycle time per stage, conditions closed on time, reviews opened automatically or by hand."""
    from gates import services

    rt = runtime_for(db)
    report = services.gate_report(actor=acting(rt, by), uow=rt.uow, now=now(), template_id=template)
    if as_json:
        emit(dataclasses.asdict(report))
        return
    for line in gate_table(report):
        typer.echo(line)
