"""What a register of lessons learned costs every gate review: approval rounds with 0 to N lessons on file.

Prints ``name: value`` lines. Run: ``.venv/bin/python bench/lessons.py [--lessons 1000 5000] [--rounds 200]
[--quick]``.

Why: a review ranks every lesson of the organisation for the approvers' packet (``gates.relevance``), so its cost
grows with the register. Each size runs on a copy of one prepared SQLite file (NORMAL). Its lessons are filed in SQL
without their trigram codes, as in a database upgraded to migration 0020: a fresh engine's first round reads every
lesson whole, cuts its text into trigrams and writes the codes into its row (``first_round_ms_*``); another fresh
engine's first round then reads the codes kept (``first_round_kept_codes_ms_*``: what a CLI ``gate review``, a fresh
process, pays). The timed rounds that follow in it read the register's stamp (migration 0019), reuse the list the
engine kept and score it (``round_ms_*``), set against the rounds without lessons measured in the same run
(``extra_ms_per_1000_lessons_*``). Lessons are
synthetic: 75 words each from a mixed Chinese and English vocabulary, two tags of five, a quarter on the rounds'
template.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.decisions import decisions, emit
from bench.peers import phasegate_gate
from bench.peers.timing import fresh_sqlite_path
from phasegate.models.schema import upgrade

WORDS = ("scope", "budget", "vendor", "delay", "risk", "testing", "handover")
WORDS += ("需求", "变更", "预算", "供应商", "延期", "风险", "沟通", "资源")
TAGS = ("budget", "doc", "risk", "schedule", "vendor")


def file_lessons(path: Path, count: int) -> None:
    """``count`` lessons on the prepared file's first project, in one transaction (untimed)."""
    rnd = random.Random(17)
    with closing(sqlite3.connect(path)) as db, db:  # closed, after committing
        key, author, template = db.execute("SELECT key, manager_id, template_id FROM projects LIMIT 1").fetchone()
        rows = []
        for n in range(1, count + 1):
            what, repeat, avoid = (" ".join(rnd.choice(WORDS) for _ in range(25)) for _ in range(3))
            rows.append(
                (
                    n,
                    key,
                    template if n % 4 == 0 else "another-lifecycle",
                    "cost",
                    json.dumps(rnd.sample(TAGS, 2)),
                    what,
                    repeat,
                    avoid,
                    f"{what}\n{repeat}\n{avoid}".lower(),
                    author,
                    "2026-01-01 00:00:00.000000",
                )
            )
        db.executemany(
            "INSERT INTO lessons (id, project_key, template_id, category, tags, what_happened, repeat, avoid, "
            "search_text, author_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def rounds_ms(prepared: Path, work: Path, lessons: int, rounds: int) -> tuple[float, float, float]:
    """With ``lessons`` on file: (the first round's ms in a fresh engine, the first round's ms in another fresh engine
    after it, the following rounds' mean ms in that one)."""
    path = fresh_sqlite_path(work, f"lessons-{lessons}.db")
    shutil.copyfile(prepared, path)
    file_lessons(path, lessons)
    keys = phasegate_gate.project_keys(phasegate_gate.SINGLE, rounds + 2)
    voters = phasegate_gate.VOTERS[phasegate_gate.SINGLE]

    def first_round_ms(engine: phasegate_gate.Phasegate, key: str) -> float:
        started = time.perf_counter()
        phasegate_gate.rounds(engine, [key], decisions(1), voters)
        return (time.perf_counter() - started) * 1000

    engine = phasegate_gate.Phasegate.open(f"sqlite:///{path}", "NORMAL")
    try:
        first = first_round_ms(engine, keys[0])
    finally:
        engine.close()
    engine = phasegate_gate.Phasegate.open(f"sqlite:///{path}", "NORMAL")
    try:
        first_kept = first_round_ms(engine, keys[1])
        timing = phasegate_gate.rounds(engine, keys[2:], decisions(rounds), voters)
    finally:
        engine.close()
    return first, first_kept, 1000 / timing.rounds_per_s


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--lessons", type=int, nargs="+", default=[1000, 5000], help="register sizes (default 1000 5000)"
    )
    parser.add_argument("--rounds", type=int, default=200, help="timed rounds per size (default 200)")
    parser.add_argument("--quick", action="store_true", help="500 lessons, 50 rounds")
    args = parser.parse_args(argv)
    sizes, rounds = ([500], 50) if args.quick else (args.lessons, args.rounds)
    with tempfile.TemporaryDirectory(prefix="phasegate-bench-") as directory:
        work = Path(directory)
        prepared = fresh_sqlite_path(work, "prepared.db")
        url = f"sqlite:///{prepared}"
        upgrade(url)
        phasegate_gate.setup(url, rounds + 2)
        emit("rounds_per_size", rounds)
        _, _, bare = rounds_ms(prepared, work, 0, rounds)
        emit("round_ms_0_lessons", bare)
        for size in sizes:
            first, first_kept, warm = rounds_ms(prepared, work, size, rounds)
            emit(f"first_round_ms_{size}_lessons", first)
            emit(f"first_round_kept_codes_ms_{size}_lessons", first_kept)
            emit(f"round_ms_{size}_lessons", warm)
            emit(f"extra_ms_per_1000_lessons_{size}", (warm - bare) * 1000 / size)


if __name__ == "__main__":
    main()
