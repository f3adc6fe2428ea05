"""Runtime settings from the environment (prefix ``PHASEGATE_``); read once by entry points, passed down."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from phasegate.gates.vocabulary.limits import MB, IntakeLimits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PHASEGATE_", extra="ignore")

    home: Path = Field(default=Path(".phasegate"), description="Where local state lives (SQLite file, Prefect server).")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default is a SQLite file under home.")
    # No default on purpose: a key everyone can read in the source signs links anyone can forge. Read it
    # through ``models.keys.secret_key``, which also tries the key file and refuses short or exposed keys.
    secret_key: SecretStr | None = Field(
        default=None, description="Signs approval links; at least 32 bytes (PHASEGATE_SECRET_KEY)."
    )
    secret_key_file: Path | None = Field(
        default=None, description="File holding the key, mode 0600 (default: secret.key under home)."
    )
    public_url: str = "http://127.0.0.1:8000"
    prefect_port: int = 4200
    notify_config: Path | None = Field(
        default=None, description="Apprise YAML file with the organisation's tagged targets (PHASEGATE_NOTIFY_CONFIG)."
    )
    notify_org_locale: str = Field(default="en", pattern="^(en|zh-CN)$", description="Language of org channel notices.")
    notify_max_attempts: int = Field(default=5, ge=1, le=50, description="Sends before a notification is dead.")
    # An acknowledged approval must survive power loss, so SQLite runs with synchronous=FULL by default.
    sqlite_synchronous: str = Field(default="FULL", pattern="^(FULL|NORMAL)$")
    # Web sign-in (docs/security.md): server-side sessions end after this long idle, and this long at most.
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60, description="Idle time before sign-in expires.")
    session_max_hours: int = Field(default=12, ge=1, le=24 * 30, description="Longest a sign-in lasts.")
    refusals_per_minute: int = Field(
        default=20, ge=1, le=100_000, description="Refusals audited per client address per minute; the rest counted."
    )
    web_threads: int = Field(
        default=40,
        ge=1,
        le=1000,
        description="Threads a web process runs blocking request work in (SQL, rendering): at most this many such "
        "requests at once; 40 is the framework's own default.",
    )
    # Single sign-on: all three set turns on "Sign in with single sign-on" (an OpenID Connect provider).
    oidc_issuer: str | None = Field(default=None, description="Issuer URL of the OpenID Connect provider.")
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)

    document_store: Path | None = Field(
        default=None, description="Where registered documents are kept, by sha256 (default: HOME/documents)."
    )
    document_roots: str | None = Field(
        default=None,
        description="Folders (separated by ':') the API may register documents from; default: anywhere outside HOME.",
    )
    report_dir: Path | None = Field(
        default=None, description="Where the portfolio-report flow writes PDF, HTML and XLSX (default: HOME/reports)."
    )
    report_font: Path | None = Field(
        default=None,
        description="A TrueType/OpenType font with Chinese glyphs for PDF reports and charts (PHASEGATE_REPORT_FONT); "
        "default: the first found by fontconfig (fc-list :lang=zh-cn).",
    )
    # Caps on what is read from outside (gates/vocabulary/limits.py says why); each refusal names its variable.
    max_document_mb: int = Field(default=50, ge=1, le=4096, description="Largest document `doc add` registers.")
    max_import_mb: int = Field(default=20, ge=1, le=4096, description="Largest CSV/XLSX file an import reads.")
    max_import_rows: int = Field(default=100_000, ge=1, le=100_000_000, description="Most rows in one import file.")
    max_xlsx_unzipped_mb: int = Field(default=50, ge=1, le=65536, description="Unzipped size of an XLSX's parts.")
    max_docx_xml_mb: int = Field(default=20, ge=1, le=65536, description="Unzipped XML of a DOCX read for sections.")
    max_pdf_pages: int = Field(default=2000, ge=1, le=1_000_000, description="Most pages of a PDF read for sections.")
    max_request_kb: int = Field(default=1024, ge=1, le=4_194_304, description="Largest HTTP request body (web).")

    @property
    def reports_folder(self) -> Path:
        """Where the portfolio report's files go, absolute (the flow prints and links these paths)."""
        return (self.report_dir or self.home / "reports").resolve()

    @property
    def document_store_root(self) -> Path:
        """The content-addressed document store (``models.document_store``), absolute."""
        return (self.document_store or self.home / "documents").resolve()

    @property
    def allowed_document_roots(self) -> tuple[Path, ...]:
        """PHASEGATE_DOCUMENT_ROOTS as absolute folders; empty: no list, only phasegate's own folders are barred."""
        if not self.document_roots:
            return ()
        return tuple(Path(part).expanduser().resolve() for part in self.document_roots.split(os.pathsep) if part)

    @property
    def limits(self) -> IntakeLimits:
        return IntakeLimits(
            document_bytes=self.max_document_mb * MB,
            import_bytes=self.max_import_mb * MB,
            import_rows=self.max_import_rows,
            xlsx_unzipped_bytes=self.max_xlsx_unzipped_mb * MB,
            docx_xml_bytes=self.max_docx_xml_mb * MB,
            pdf_pages=self.max_pdf_pages,
            request_bytes=self.max_request_kb * 1024,
        )

    @property
    def resolved_secret_key_file(self) -> Path:
        return self.secret_key_file if self.secret_key_file is not None else self.home / "secret.key"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'phasegate.db').resolve()}"
