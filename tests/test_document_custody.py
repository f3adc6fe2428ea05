"""Document custody and intake caps, as people meet them: the ``phasegate`` command in real processes and the
REST API through the real app, on real SQLite and PostgreSQL databases, with real files, FIFOs and devices.

What must hold: a gate reads phasegate's stored copy of a document, never the original path, so editing the
original after ``doc add`` changes nothing until the edited file is registered (a new version); the same
file again is a no-op that says so; a tampered stored copy fails its criterion; FIFOs, devices, directories
and sockets are refused at once (pytest-timeout guards "at once": reading them used to block forever); and
over-size documents, zip bombs, too many rows and over-size HTTP bodies are refused naming the file or field,
the limit and the setting, with nothing written.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from phasegate.flows.cli.common import os_login
from phasegate.gates.vocabulary.commands import AddPerson, CreateProject
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, OrgRole
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.settings import Settings
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import services
from phasegate.web.app import create_app
from tests.conftest import TEST_AUDIT_KEY
from tests.test_api import seed, write_document
from tests.test_cli import PHASEGATE

IT_PMO = next(template for _, template in shipped_templates() if template.id == "it-pmo")
SIGNER = {"sponsor": "alice", "pmo": "carol"}


class Phasegate:
    """The ``phasegate`` command against one database, with its own document store (PHASEGATE_DOCUMENT_STORE)."""

    def __init__(self, url: str, store: Path, env: dict[str, str] | None = None) -> None:
        self.url = url
        self.store = store
        self.env = os.environ | {"PHASEGATE_DOCUMENT_STORE": str(store)} | (env or {})

    def run(self, *args: str, expect: int = 0, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [PHASEGATE, *args, "--db", self.url],
            capture_output=True,
            text=True,
            timeout=120,
            env=self.env | (env or {}),
        )
        assert done.returncode == expect, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def refused(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Exit 2 with exactly one line on stderr, which is returned."""
        done = self.run(*args, expect=2, env=env)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        return lines[0]

    def trace(self) -> tuple[str, dict[str, dict[str, Any]]]:
        check = json.loads(self.run("gate", "check", "P1", "--json").stdout)
        return check["recommendation"], {entry["code"]: entry for entry in check["trace"]}

    def counts(self) -> tuple[int, int, int]:
        """Document rows, audit entries, evidence rows of any kind: what 'nothing written' is checked against."""
        engine = make_engine(self.url)
        try:
            with make_session_factory(engine)() as session:
                documents = session.scalar(select(func.count()).select_from(t.Document)) or 0
                audit = session.scalar(select(func.count()).select_from(t.AuditEntry)) or 0
                risks = session.scalar(select(func.count()).select_from(t.Risk)) or 0
                return documents, audit, risks
        finally:
            engine.dispose()

    def stored_files(self) -> list[Path]:
        return sorted(p for p in self.store.rglob("*") if p.is_file())


@pytest.fixture
def pg(db_url: str, tmp_path: Path) -> Phasegate:
    """The shipped templates, the PMO admin (mapped to this OS login), alice, bob, carol and project P1 with carol as
    its PMO: written through the use cases in this process, as ``db upgrade``, ``person add``, ``project create``
    and ``project assign`` write them (those commands have tests of their own; seven ``phasegate`` processes per
    test were setup, not what these tests are about). The acts under test below are real ``phasegate`` processes.
    """
    engine = make_engine(db_url)
    now = datetime.now(UTC)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, audit_key=TEST_AUDIT_KEY)

    try:
        for source, template in shipped_templates():
            services.publish_template(
                template, content_hash=template_content_hash(template), source=source, uow=uow, now=now,
                actor=SYSTEM_ACTOR,
            )  # fmt: skip
        admin = AddPerson(
            id="admin",
            name="Ada Admin",
            email="admin@example.com",
            login=os_login(),
            roles=frozenset({OrgRole.PMO_ADMIN}),
        )
        services.add_person(admin, uow=uow, now=now, actor=SYSTEM_ACTOR)
        for person in ("alice", "bob", "carol"):
            cmd = AddPerson(id=person, name=person.title(), email=f"{person}@example.com")
            services.add_person(cmd, uow=uow, now=now, actor=SYSTEM_ACTOR)
        project = CreateProject(
            key="P1", name="Pilot", template_id="it-pmo", sponsor_id="alice", manager_id="bob", budget=Decimal(1000)
        )
        services.create_project(project, uow=uow, now=now, actor=SYSTEM_ACTOR)
        services.assign_role("P1", "pmo", "carol", uow=uow, now=now, actor=SYSTEM_ACTOR)
    finally:
        engine.dispose()
    return Phasegate(db_url, tmp_path / "store")


def write_deliverable(folder: Path, deliverable: str, extra: str = "") -> Path:
    standard = IT_PMO.deliverable(deliverable)
    path = folder / f"{deliverable}.md"
    path.write_text(
        f"# {standard.name}\n\n" + "".join(f"## {s}\n\ntext\n\n" for s in standard.required_sections) + extra,
        encoding="utf-8",
    )
    return path


def test_the_gate_reads_the_stored_copy_never_the_original(pg: Phasegate, tmp_path: Path) -> None:
    paths = {}
    for deliverable in IT_PMO.gates[0].deliverables:
        paths[deliverable] = write_deliverable(tmp_path, deliverable)
        signer = SIGNER[IT_PMO.deliverable(deliverable).approver_role]
        pg.run("doc", "add", "P1", deliverable, str(paths[deliverable]), "--approved-by", signer)
    pg.run("actuals", "add", "P1", "100")
    assert pg.trace()[0] == "go"
    stored = pg.stored_files()
    assert len(stored) == len(paths)
    assert all(p.stat().st_mode & 0o777 == 0o444 for p in stored), "stored copies are read-only"

    # Edited on disk after approval: the gate still reads what was approved (phasegate's copy).
    charter = paths["project-charter"]
    charter.write_text("# Project charter\n\nscope quietly widened; no sections left\n", encoding="utf-8")
    recommendation, trace = pg.trace()
    assert recommendation == "go" and trace["doc.required_sections"]["result"] == "pass"

    # Registered again, the edited file is a new version: not approved, and its missing sections show.
    added = pg.run("doc", "add", "P1", "project-charter", str(charter)).stdout
    assert "project-charter v2 registered" in added
    recommendation, trace = pg.trace()
    assert recommendation != "go"
    assert "Project charter v2 is not approved" in trace["doc.approved_by_role"]["message"]
    assert trace["doc.required_sections"]["result"] == "fail"

    # The same file again is not a new version, and says so; nothing is written.
    before = pg.counts()
    again = pg.run("doc", "add", "P1", "project-charter", str(charter)).stdout
    assert "unchanged, already registered as v2; no new version" in again
    assert pg.counts() == before

    # phasegate's copy altered in the store: the criterion fails and says what to do.
    business_case = paths["business-case"]
    copy = next(p for p in pg.stored_files() if "".join(p.parts[-2:]) == _sha_of_file(business_case))
    copy.chmod(0o644)
    copy.write_text("# forged\n", encoding="utf-8")
    recommendation, trace = pg.trace()
    unchanged = trace["doc.unchanged_since_approval"]
    assert unchanged["result"] == "fail" and "document store was altered" in unchanged["message"]
    assert "register the approved file business-case.md again" in unchanged["remediation"]

    # Registering the approved file again restores the copy without a new version.
    before = pg.counts()
    restored = pg.run("doc", "add", "P1", "business-case", str(business_case), "--approved-by", "alice").stdout
    assert "no new version" in restored and pg.counts() == before
    assert pg.trace()[1]["doc.unchanged_since_approval"]["result"] == "pass"

    # A copy deleted from the store is missing evidence, with the same remedy.
    copy.unlink()
    assert pg.trace()[1]["doc.unchanged_since_approval"]["result"] == "missing_evidence"


def _sha_of_file(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _docx_bomb(path: Path, xml_bytes: int) -> None:
    """A small DOCX whose document.xml unzips to ``xml_bytes`` (whitespace compresses about 1000:1)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("word/document.xml", "w") as part:
            part.write(b'<?xml version="1.0"?><w:document>')
            block = b" " * (1024 * 1024)
            for _ in range(xml_bytes // len(block)):
                part.write(block)
            part.write(b"</w:document>")


def _xlsx_bomb(path: Path, sheet_bytes: int) -> None:
    """A small XLSX whose first worksheet unzips to ``sheet_bytes``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            block = b" " * (1024 * 1024)
            for _ in range(sheet_bytes // len(block)):
                part.write(block)


@pytest.mark.timeout(240)
def test_what_cannot_be_read_safely_is_refused_at_once_and_nothing_is_written(pg: Phasegate, tmp_path: Path) -> None:
    before = pg.counts()
    fifo = tmp_path / "charter.md"
    os.mkfifo(fifo)
    line = pg.refused("doc", "add", "P1", "project-charter", str(fifo))
    assert line == f"phasegate: FILE: {str(fifo)!r} is a FIFO (named pipe), not a regular file; " + (
        "name the document or spreadsheet file itself"
    )
    assert "is a character device, not a regular file" in pg.refused("doc", "add", "P1", "project-charter", "/dev/zero")
    assert "is a directory, not a regular file" in pg.refused("doc", "add", "P1", "project-charter", str(tmp_path))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        sock = tmp_path / "s.md"
        listener.bind(str(sock))
        assert "is a socket, not a regular file" in pg.refused("doc", "add", "P1", "project-charter", str(sock))
    csv_fifo = tmp_path / "status.csv"
    os.mkfifo(csv_fifo)
    assert "is a FIFO (named pipe)" in pg.refused("actuals", "import", str(csv_fifo))

    big = tmp_path / "plan.md"
    big.write_bytes(b"# Plan\n" + b"x" * (51 * 1024 * 1024))
    line = pg.refused("doc", "add", "P1", "project-charter", str(big))
    assert f"FILE: {str(big)!r} is 51 MB; documents may be at most 50 MB" in line
    assert "set PHASEGATE_MAX_DOCUMENT_MB to change the limit" in line
    big.write_bytes(b"# Plan\n" + b"x" * (2 * 1024 * 1024))
    line = pg.refused("doc", "add", "P1", "project-charter", str(big), env={"PHASEGATE_MAX_DOCUMENT_MB": "1"})
    assert "documents may be at most 1 MB" in line

    docx = tmp_path / "charter.docx"
    _docx_bomb(docx, 25 * 1024 * 1024)
    assert docx.stat().st_size < 200_000
    line = pg.refused("doc", "add", "P1", "project-charter", str(docx))
    assert f"FILE: {str(docx)!r} holds 25 MB of XML once unzipped; DOCX files read for sections may hold at most " in (
        line
    )
    assert "20 MB (set PHASEGATE_MAX_DOCX_XML_MB to change the limit)" in line

    xlsx = tmp_path / "risks.xlsx"
    _xlsx_bomb(xlsx, 60 * 1024 * 1024)
    assert xlsx.stat().st_size < 400_000
    line = pg.refused("risk", "import", str(xlsx))
    assert f"{xlsx}: unzips to 60 MB (xl/worksheets/sheet1.xml alone 60 MB); " in line
    assert "an XLSX import may unzip to at most 50 MB" in line
    assert "PHASEGATE_MAX_XLSX_UNZIPPED_MB" in line

    rows = tmp_path / "risks.csv"
    with rows.open("w", encoding="utf-8") as out:
        out.write("project,id,title,probability,impact\n")
        for number in range(100_001):
            out.write(f"P1,R{number},Risk {number},2,3\n")
    line = pg.refused("risk", "import", str(rows))
    assert f"{rows}: more than 100000 rows; an import file may have at most 100000 rows" in line
    assert "PHASEGATE_MAX_IMPORT_ROWS" in line
    small = tmp_path / "few.csv"
    small.write_text("project,id,title,probability,impact\nP1,R1,a,2,3\nP1,R2,b,2,3\nP1,R3,c,2,3\n", encoding="utf-8")
    assert "at most 2 rows" in pg.refused("risk", "import", str(small), env={"PHASEGATE_MAX_IMPORT_ROWS": "2"})

    documents, audit, risks = pg.counts()
    assert (documents, risks) == (before[0], before[2])
    # What names something other than a file is audited, as through the API (a FIFO, a device, a folder, a
    # socket); a file that is merely too big is a mistake, not an event.
    assert audit == before[1] + 4
    assert pg.stored_files() == []


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    tokens = seed(db_url)
    app = create_app(Settings(database_url=db_url, home=tmp_path / "home"))
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {tokens['pmo']}"}, db_url


def _project(client: TestClient, headers: dict[str, str]) -> None:
    body = {"key": "D1", "name": "Docs", "template_id": "it-pmo", "sponsor_id": "sam", "manager_id": "mgr",
            "budget": "1000.00"}  # fmt: skip
    assert client.post("/api/v1/projects", json=body, headers=headers).status_code == 201


def test_the_api_takes_custody_and_refuses_what_it_cannot_read(
    api: tuple[TestClient, dict[str, str], str], tmp_path: Path
) -> None:
    client, headers, url = api
    _project(client, headers)
    docs = tmp_path / "docs"
    docs.mkdir()
    body = write_document(docs, "business-case")
    first = client.post("/api/v1/projects/D1/documents", json=body, headers=headers)
    assert first.status_code == 201 and first.json()["store_key"].startswith("sha256/")
    again = client.post("/api/v1/projects/D1/documents", json=body, headers=headers)
    assert again.status_code == 200 and again.json()["version"] == 1
    copy = tmp_path / "home" / "documents" / first.json()["store_key"]
    assert copy.read_bytes() == Path(body["path"]).read_bytes()

    def refused(change: dict[str, Any]) -> dict[str, Any]:
        answer = client.post("/api/v1/projects/D1/documents", json=body | change, headers=headers)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        return dict(answer.json())

    assert "is a character device, not a regular file" in refused({"path": "/dev/zero"})["detail"]
    fifo = docs / "plan.md"
    os.mkfifo(fifo)
    assert refused({"path": str(fifo)})["detail"].startswith(f"body.path: {str(fifo)!r} is a FIFO (named pipe)")
    link = docs / "link.md"
    link.symlink_to(body["path"])
    assert "is a symbolic link" in refused({"path": str(link)})["detail"]
    mismatch = refused({"sha256": "0" * 64})
    assert mismatch["code"] == "document.hash_mismatch" and mismatch["detail"].startswith("body.sha256: ")
    # phasegate's own folder (its database, its store, its sessions) is never a deliverable
    secret = tmp_path / "home" / "notes.md"
    secret.write_text("# Business Case\n", encoding="utf-8")
    inside = refused({"path": str(secret)})
    assert inside["code"] == "document.outside_roots" and "phasegate's own folder" in inside["detail"]
    unknown = write_document(docs, "project-charter") | {"deliverable_id": "ghost"}
    assert client.post("/api/v1/projects/D1/documents", json=unknown, headers=headers).status_code == 422
    kept = sorted(p.name for p in (tmp_path / "home" / "documents").rglob("*") if p.is_file())
    assert kept == [copy.name], "a refused registration left its copy in the store"

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            assert session.scalar(select(func.count()).select_from(t.Document)) == 1
            refusals = session.execute(
                select(t.AuditEntry.actor, t.AuditEntry.payload)
                .where(t.AuditEntry.action == "security.document_refused")
                .order_by(t.AuditEntry.seq)
            ).all()
    finally:
        engine.dispose()
    assert [(actor, payload["code"]) for actor, payload in refusals] == [("pam", "input.not_regular_file")] * 3 + [
        ("pam", "document.hash_mismatch"),
        ("pam", "document.outside_roots"),
    ]
    assert refusals[0].payload["path"] == "/dev/zero"


def test_a_team_pins_api_registrations_to_its_document_share(db_url: str, tmp_path: Path) -> None:
    tokens = seed(db_url)
    share, elsewhere = tmp_path / "share", tmp_path / "elsewhere"
    share.mkdir()
    elsewhere.mkdir()
    settings = Settings(database_url=db_url, home=tmp_path / "home", document_roots=str(share))
    headers = {"Authorization": f"Bearer {tokens['pmo']}"}
    with TestClient(create_app(settings)) as client:
        _project(client, headers)
        outside = client.post(
            "/api/v1/projects/D1/documents", json=write_document(elsewhere, "business-case"), headers=headers
        )
        assert outside.status_code == 422 and outside.json()["code"] == "document.outside_roots", outside.text
        assert str(share) in outside.json()["detail"] and "PHASEGATE_DOCUMENT_ROOTS" in outside.json()["detail"]
        inside = client.post(
            "/api/v1/projects/D1/documents", json=write_document(share, "business-case"), headers=headers
        )
        assert inside.status_code == 201, inside.text


@pytest.mark.timeout(120)
def test_over_size_request_bodies_get_413_on_the_stream(api: tuple[TestClient, dict[str, str], str]) -> None:
    client, headers, _ = api
    padding = "x" * (1024 * 1024 + 1)
    body = {"key": "BIG", "name": padding, "template_id": "it-pmo", "sponsor_id": "sam", "manager_id": "mgr",
            "budget": "1.00"}  # fmt: skip
    declared = client.post("/api/v1/projects", json=body, headers=headers)
    assert declared.status_code == 413
    assert declared.headers["content-type"].startswith("application/problem+json")
    problem = declared.json()
    assert problem["code"] == "request.too_large" and problem["status"] == 413
    assert problem["detail"].startswith("request body of 1 MB is larger than 1 MB, the most this server accepts")
    assert "PHASEGATE_MAX_REQUEST_KB" in problem["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: only counting the stream can catch it
        encoded = json.dumps(body).encode()
        for start in range(0, len(encoded), 64 * 1024):
            yield encoded[start : start + 64 * 1024]

    streamed = client.post("/api/v1/projects", content=chunks(), headers=headers | {"Content-Type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["code"] == "request.too_large"
    assert "request body is larger than 1 MB" in streamed.json()["detail"]

    form = {"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "zh-CN"}
    page = client.post("/approve/any-token", content=b"a=" + b"x" * (2 * 1024 * 1024), headers=form)
    assert page.status_code == 413 and "请求过大" in page.text and "请求超出了服务器可接受的大小" in page.text
    assert "<details" in page.text and "PHASEGATE_MAX_REQUEST_KB" in page.text  # the exact line, for the PMO

    assert client.get("/api/v1/projects/BIG", headers=headers).status_code == 404
    small = client.post("/api/v1/projects", json=body | {"name": "fits"}, headers=headers)
    assert small.status_code == 201, small.text


def test_doc_adopt_takes_documents_registered_before_the_store_into_custody(pg: Phasegate, tmp_path: Path) -> None:
    """Rows written before migration 0006 have no stored copy: the gate says so, and `doc adopt` copies the
    files that still hash to what was registered (no new version); an edited file is left for `doc add`."""
    import hashlib
    from datetime import UTC, datetime

    from phasegate.gates.vocabulary.commands import RegisterDocument
    from phasegate.models.uow import SqlUnitOfWork
    from phasegate.usecases import services

    engine = make_engine(pg.url)
    paths = {}
    try:
        for deliverable in IT_PMO.gates[0].deliverables:
            paths[deliverable] = path = write_deliverable(tmp_path, deliverable)
            standard = IT_PMO.deliverable(deliverable)
            services.register_document(
                RegisterDocument(
                    project_key="P1",
                    deliverable_id=deliverable,
                    path=str(path),
                    sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                    size=path.stat().st_size,
                    format="md",
                    headings=standard.required_sections,
                    approved_by=SIGNER[standard.approver_role],
                ),
                uow=lambda: SqlUnitOfWork(engine, audit_key=TEST_AUDIT_KEY),
                now=datetime.now(UTC),
                actor=SYSTEM_ACTOR,
            )
    finally:
        engine.dispose()
    unchanged = pg.trace()[1]["doc.unchanged_since_approval"]
    assert unchanged["result"] == "missing_evidence" and "phasegate keeps no copy of it" in unchanged["message"]

    paths["business-case"].write_text("# edited since\n", encoding="utf-8")
    before = pg.counts()
    answer = json.loads(pg.run("doc", "adopt", "--json").stdout)
    assert sorted(answer["adopted"]) == ["P1 project-charter v1", "P1 project-initiation-request v1"]
    assert [item["document"] for item in answer["left"]] == ["P1 business-case v1"]
    assert "changed since it was registered" in answer["left"][0]["reason"]
    documents, audit, _ = pg.counts()
    assert documents == before[0] and audit == before[1] + 2, "no new version; one audit entry per adoption"
    assert len(pg.stored_files()) == 2, "the edited file's copy was not kept"
    message = pg.trace()[1]["doc.unchanged_since_approval"]["message"]
    assert "Business case" in message and "Project charter" not in message
    assert json.loads(pg.run("doc", "adopt", "--json").stdout)["adopted"] == []
