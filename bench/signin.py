"""What web sign-in costs: one argon2id check, and the session lookup every signed-in page request pays.

Runs against a fresh SQLite file at head (the schema through ``models.schema``); nothing else is contacted.
Prints ``name: value`` lines.

    .venv/bin/python bench/signin.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from phasegate.gates.vocabulary.identity import AuthMethod  # noqa: E402
from phasegate.models import schema  # noqa: E402
from phasegate.models.credentials import SignInCheck, check, set_password  # noqa: E402
from phasegate.models.db import make_engine, make_reader_factory, make_session_factory  # noqa: E402
from phasegate.models.settings import Settings  # noqa: E402
from phasegate.models.tables import Person  # noqa: E402
from phasegate.web import session as web_session  # noqa: E402

PASSWORD = "a bench passphrase of some length"


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        schema.upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        readers = make_reader_factory(engine)
        settings = Settings(database_url=url, secret_key=SecretStr("bench-only-secret-key-0123456789abcdef"))
        now = datetime.now(UTC)
        with sessions() as db, db.begin():
            db.add(Person(id="p1", name="Bench Person", email="p1@example.com", locale="en", notify_urls=[]))
            db.flush()
            set_password(db, "p1", PASSWORD, now=now)
        checks = []
        for _ in range(max(5, args.rounds // 10)):
            started = time.perf_counter()
            assert check(sessions, "p1", PASSWORD, None, now=now, readers=readers) is SignInCheck.OK
            checks.append(time.perf_counter() - started)
        cookie = web_session.start(sessions, settings, person_id="p1", method=AuthMethod.PASSWORD, now=now)
        lookups = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            assert web_session.resolve(sessions, settings, cookie, datetime.now(UTC), readers=readers) is not None
            lookups.append(time.perf_counter() - started)
        engine.dispose()
    print(f"argon2id_password_check_ms_median: {_median_ms(checks)}")
    print(f"session_lookup_per_request_ms_median: {_median_ms(lookups)}")
    print(f"session_lookup_per_request_ms_p99: {round(sorted(lookups)[int(len(lookups) * 0.99) - 1] * 1000, 3)}")


if __name__ == "__main__":
    main()
