"""``PHASEGATE_WEB_THREADS``: the web app runs at most that many blocking requests at once (anyio's thread limiter)."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
from fastapi.testclient import TestClient

from phasegate.models.settings import Settings
from phasegate.web.app import create_app


def _tokens() -> float:
    return anyio.to_thread.current_default_thread_limiter().total_tokens


def test_the_thread_pool_has_the_configured_size(sqlite_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=sqlite_url, home=tmp_path / "home", web_threads=3)
    with TestClient(create_app(settings)) as client:
        assert client.portal is not None and client.portal.call(_tokens) == 3
        assert client.get("/healthz").status_code == 200
    with TestClient(create_app(settings.model_copy(update={"web_threads": 40}))) as client:
        assert client.portal is not None and client.portal.call(_tokens) == 40
