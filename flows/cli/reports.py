"""``phasegate report``: reports to management (gate analytics; the portfolio report joins it here)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import ActFor, Db, Json, acting, emit, now, runtime_for, sub_app
from phasegate.gates.vocabulary.errors import InputError

app = sub_app("Reports to management: gate analytics and the portfolio report.")


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
    from phasegate.usecases import services

    rt = runtime_for(db)
    report = services.gate_report(actor=acting(rt, by), uow=rt.uow, reader=rt.reader, now=now(), template_id=template)
    if as_json:
        emit(dataclasses.asdict(report))
        return
    for line in gate_table(report):
        typer.echo(line)


@app.command("portfolio")
def report_portfolio(
    out: Annotated[Path, typer.Option("--out", help="File to write", show_default=False)],
    period: Annotated[
        str | None, typer.Option("--period", help="ISO week (2026-W48) or month (2026-11); default: this week")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="pdf, html or xlsx")] = "pdf",
    lang: Annotated[str, typer.Option("--lang", help="en or zh-CN")] = "en",
    by: ActFor = None,
    db: Db = None,
) -> None:
    """The portfolio report of a period: portfolio table, funnel, RAG trend, EVM S-curve, value/risk bubbles,
    decisions of the period and top risks, as PDF (fonts embedded), HTML or XLSX, in English or Chinese."""
    from phasegate.gates.portfolio import week_of
    from phasegate.notifications.portfolio.document import check_choice, render
    from phasegate.usecases import services

    check_choice(fmt, lang)
    rt = runtime_for(db)
    when = now()
    report = services.portfolio_report(
        period=period or week_of(when.date()).label, actor=acting(rt, by), uow=rt.uow, reader=rt.reader, now=when
    )
    rendered = render(report, fmt, lang, font_setting=rt.settings.report_font)
    try:
        out.write_bytes(rendered.content)
    except OSError as err:
        raise InputError(f"--out: cannot write {out}: {err.strerror}") from None
    typer.echo(f"wrote {out} ({len(rendered.content)} bytes, {len(report.rows)} projects, {report.period.label})")
