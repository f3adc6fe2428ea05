"""Lessons learned through a team server: the remote ``lesson`` commands print what the local ones print on the
server's database, in Chinese and English, and a mistake reads the same before anything is sent."""

from __future__ import annotations

import json

import pytest

from tests.test_remote_cli import Team, team  # noqa: F401  (the served team fixture)


@pytest.mark.timeout(600)  # about 20 CLI processes beside a served team
def test_remote_lesson_commands_match_the_local_ones(team: Team) -> None:  # noqa: F811
    pmo = team.laptop("pam")
    pmo.logged_in(team, "pmo")
    filed = pmo.run(
        *("lesson", "add", "P1", "--what", "供应商合同晚签两周 vendor contract signed late"),
        *("--category", "procurement", "--tags", "vendor,contract", "--avoid", "Sign before planning ends"),
        "--gate",
        "ready-for-planning",
    ).stdout
    assert filed.strip() == "lesson #1 filed for P1"
    assert pmo.run("lesson", "edit", "#1", "--repeat", "Start procurement at initiation").stdout.strip() == (
        "lesson #1 edited"
    )
    shown = json.loads(team.local("lesson", "show", "1", "--json").stdout)["lesson"]
    assert shown["repeat"] == "Start procurement at initiation" and shown["author_id"] == "pam"

    for args in (
        ("lesson", "list", "--project", "P1", "--category", "procurement"),
        ("lesson", "list", "--template", "cooper-5", "--json"),
        ("lesson", "search", "供应商"),
        ("lesson", "show", "1"),
        ("lesson", "due", "--json"),
    ):
        assert pmo.run(*args).stdout == team.local(*args).stdout, args
    assert "供应商合同晚签两周" in pmo.run("lesson", "search", "供应商").stdout

    for args in (
        ("lesson", "add", "P1", "--what", "x", "--category", "nope"),
        ("lesson", "applied", "1", "--round", "not-a-round"),
    ):
        assert pmo.run(*args, expect=2).stderr == team.local(*args, expect=2).stderr, args
    assert len(json.loads(team.local("lesson", "list", "--json").stdout)) == 1  # the mistakes wrote nothing
