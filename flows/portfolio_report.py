"""The ``portfolio-report`` flow (scheduled on Monday mornings): last week's portfolio report to management.

It renders the report (PDF in the organisation's language, plus HTML and XLSX kept under ``PHASEGATE_REPORT_DIR``,
by default ``PHASEGATE_HOME/reports``), publishes a summary table, a Markdown note and a link as Prefect
artifacts, and queues the PDF to the ``management`` tag through the outbox, then dispatches. Exactly once per
period: the ``send_portfolio_report`` use case claims the period in ``report_runs`` in the same transaction that
queues the notifications, so a rerun, or a run after a crash at any point, never sends a period twice.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from phasegate.flows.notify_dispatch import dispatch_notifications
from phasegate.flows.report import portfolio_markdown, portfolio_summary, portfolio_summary_rows
from phasegate.flows.runtime import require_secret_key, runtime, utc_now
from phasegate.gates.portfolio import PortfolioReport, week_of
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.notifications.portfolio.document import render
from phasegate.usecases import services


def last_week() -> str:
    """The ISO week before today's (UTC): a Monday-morning run reports the week that just ended."""
    return week_of(utc_now().date() - timedelta(days=7)).label


@task(name="build-portfolio-report")
def build_report(period: str) -> PortfolioReport:
    rt = runtime()
    return services.portfolio_report(period=period, actor=SYSTEM_ACTOR, uow=rt.uow, now=utc_now())


@task(name="render-portfolio-report")
def render_files(report: PortfolioReport, lang: str) -> dict[str, Path]:
    """Every format in the organisation's language, written to the reports folder (replaced on rerun)."""
    rt = runtime()
    folder = rt.settings.reports_folder
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt in ("pdf", "html", "xlsx"):
        rendered = render(report, fmt, lang, font_setting=rt.settings.report_font)
        path = folder / rendered.file_name
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(rendered.content)
        partial.replace(path)  # a crash mid-write never leaves a truncated report under the real name
        written[fmt] = path
    return written


@task(name="send-portfolio-report")
def send_report(report: PortfolioReport, pdf: Path, link: str) -> services.ReportSent:
    rt = runtime()
    return services.send_portfolio_report(
        report.period.label,
        document=pdf.read_bytes(),
        file_name=pdf.name,
        summary=portfolio_summary(report).model_copy(update={"report_url": link}),
        actor=SYSTEM_ACTOR,
        uow=rt.uow,
        now=utc_now(),
    )


@task(name="publish-report-artifacts")
def publish_artifacts(report: PortfolioReport, sent: bool, link: str) -> None:
    key = f"portfolio-report-{report.period.label.lower()}"
    create_table_artifact(portfolio_summary_rows(report), key=f"{key}-summary", description="Portfolio summary")
    create_markdown_artifact(portfolio_markdown(report, sent=sent, link=link), key=key, description="Portfolio report")
    create_link_artifact(link, link_text=f"Portfolio report {report.period.label}", key=f"{key}-link")


def _run_name() -> str:
    period = flow_run.parameters.get("period")
    return f"portfolio-report-{period or 'last-week'}"


@flow(name="portfolio-report", flow_run_name=_run_name, log_prints=False)
def portfolio_report_flow(period: str | None = None) -> dict[str, Any]:
    require_secret_key()
    label = period or last_week()
    rt = runtime()
    report = build_report(label)
    files = render_files(report, rt.settings.notify_org_locale)
    link = f"{rt.settings.public_url.rstrip('/')}/reports?period={report.period.label}"
    outcome = send_report(report, files["pdf"], link)
    publish_artifacts(report, outcome.sent, link)
    return {
        "period": report.period.label,
        "sent": outcome.sent,
        "notifications": outcome.run.notifications,
        "files": {fmt: str(path) for fmt, path in files.items()},
        # Always: a run after a crash that came after the claim delivers what the crashed run had queued.
        "dispatch": dispatch_notifications(),
    }
