"""Importing actuals, baselines and risk registers: exact values in, every bad row out, nothing half-imported.

Files are real: CSV files in tests/data/imports and ones written to tmp_path, and XLSX workbooks written by
openpyxl with real date and number cells (no binaries in the repository).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from phasegate.gates.vocabulary.errors import InputError
from phasegate.models.imports import (
    ActualsRow,
    BaselineRow,
    ImportRowsError,
    RiskRow,
    parse_actuals,
    parse_baseline,
    parse_risks,
    read_rows,
)

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

DATA = Path(__file__).parent / "data" / "imports"

ACTUALS_HEADER = "project,as_of,planned_value,earned_value,actual_cost"
ACTUALS_REQUIRED = "project, as_of, planned_value, earned_value, actual_cost"
ACTUALS_ALLOWED = "project, as_of, planned_value, earned_value, actual_cost, etc, defects, test_pass_rate, acceptance"
RISKS_HEADER = "project,id,title,probability,impact,response,status"
RISKS_ALLOWED = (
    "project, id, title, category, owner, probability, impact, response, mitigation, status, cause, event, effect"
)
RESPONSES = "avoid, mitigate, transfer, accept, escalate, exploit, enhance or share"


def write_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[object]]]) -> Path:
    """A real workbook: dates become date cells, numbers number cells, in the given sheet order."""
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    workbook.remove(first)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    workbook.save(path)
    return path


def problems_of(parse: object, path: Path) -> list[str]:
    assert callable(parse)
    with pytest.raises(ImportRowsError) as caught:
        parse(path)
    return caught.value.problems


# --- round trips -------------------------------------------------------------------------------------------


def test_csv_actuals_round_trip_keeps_exact_amounts_dates_and_order() -> None:
    rows = parse_actuals(DATA / "actuals.csv")

    assert rows == [
        ActualsRow(
            project="ALPHA",
            as_of=date(2026, 1, 31),
            planned_value=Decimal("1000.00"),
            earned_value=Decimal("900.50"),
            actual_cost=Decimal("950"),
        ),
        ActualsRow(
            project="ALPHA",
            as_of=date(2026, 2, 28),
            planned_value=Decimal(2000),
            earned_value=Decimal("1800.25"),
            actual_cost=Decimal("2100.10"),
            etc=Decimal(5000),
        ),
        ActualsRow(
            project="BETA",
            as_of=date(2026, 2, 28),
            planned_value=Decimal(0),
            earned_value=Decimal(0),
            actual_cost=Decimal("0.5"),
        ),
    ]
    assert rows[0].etc is None
    assert str(rows[1].actual_cost) == "2100.10"  # exactly as written, no float on the way


def test_bom_and_header_names_are_matched_trimmed_and_case_insensitive() -> None:
    header, data = read_rows(DATA / "actuals-bom.csv")

    assert header == ["project", "as_of", "planned_value", "earned_value", "actual_cost"]
    assert data == [
        (
            2,
            {
                "project": "ALPHA",
                "as_of": "2026-01-31",
                "planned_value": "1000.00",
                "earned_value": "900.50",
                "actual_cost": "950",
            },
        )
    ]
    assert parse_actuals(DATA / "actuals-bom.csv")[0].planned_value == Decimal("1000.00")


def test_semicolon_csv_with_quoted_delimiter_and_blank_rows() -> None:
    header, data = read_rows(DATA / "actuals-semicolon.csv")

    assert header[-1] == "etc"
    assert [number for number, _ in data] == [2, 5]  # rows 3 (empty) and 4 (only delimiters) are blank
    rows = parse_actuals(DATA / "actuals-semicolon.csv")
    assert [row.project for row in rows] == ["ACME; Ltd", "BETA"]
    assert rows[1].etc == Decimal(3)


def test_tab_delimited_csv() -> None:
    rows = parse_actuals(DATA / "actuals-tab.csv")

    assert [(row.project, row.earned_value) for row in rows] == [("ALPHA", Decimal("900.50"))]


def test_csv_baseline_and_risks_round_trip() -> None:
    baseline = parse_baseline(DATA / "baseline.csv")
    risks = parse_risks(DATA / "risks.csv")

    assert [(b.project, b.period_end, b.planned_value) for b in baseline] == [
        ("ALPHA", date(2026, 1, 31), Decimal(1000)),
        ("ALPHA", date(2026, 2, 28), Decimal("2500.50")),
        ("ALPHA", date(2026, 3, 31), Decimal(4000)),
        ("BETA", date(2026, 3, 31), Decimal(10)),
    ]
    assert risks == [
        RiskRow(
            project="ALPHA",
            id="R-1",
            title="Vendor late, again",
            category="supply",
            owner="alice",
            probability=4,
            impact=5,
            response="mitigate",
            mitigation="Second vendor on standby",
            cause="Single vendor",
            event="Delivery slips",
            effect="Go-live moves",
        ),
        RiskRow(project="ALPHA", id="R-2", title="Key person leaves", probability=2, impact=3, status="closed"),
    ]
    assert risks[0].status == "open"  # an empty status cell is an open risk


def test_xlsx_actuals_with_date_and_number_cells(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "actuals.xlsx",
        {
            "Actuals": [
                ["Project", "As Of", "Planned Value", "Earned Value", "Actual Cost", "ETC"],
                ["ALPHA", date(2026, 1, 31), 1000, 900.5, 0.1, None],
                [None, None, None, None, None, None],
                ["ALPHA", datetime(2026, 2, 28), 1234.56, 999999.99, "2100.10", 42],
                [1001, "2026-03-31", 12.3, 0, 7, ""],
            ]
        },
    )

    header, data = read_rows(path)
    rows = parse_actuals(path)

    assert header == ["project", "as_of", "planned_value", "earned_value", "actual_cost", "etc"]
    assert [number for number, _ in data] == [2, 4, 5]
    assert isinstance(data[0][1]["as_of"], datetime)  # a real date cell, read back as a datetime
    assert [(r.project, r.as_of, r.planned_value, r.earned_value, r.actual_cost, r.etc) for r in rows] == [
        ("ALPHA", date(2026, 1, 31), Decimal(1000), Decimal("900.5"), Decimal("0.1"), None),
        ("ALPHA", date(2026, 2, 28), Decimal("1234.56"), Decimal("999999.99"), Decimal("2100.10"), Decimal(42)),
        ("1001", date(2026, 3, 31), Decimal("12.3"), Decimal(0), Decimal(7), None),
    ]


def test_xlsx_takes_the_sheet_named_like_the_kind_else_the_first(tmp_path: Path) -> None:
    risks: list[list[object]] = [
        ["project", "id", "title", "probability", "impact", "response"],
        ["ALPHA", 7, "Scope creep", 3, 4.0, "Accept"],
    ]
    named = write_xlsx(tmp_path / "named.xlsx", {"Notes": [["not", "data"]], "Risks": risks})
    first = write_xlsx(tmp_path / "first.xlsx", {"Register": risks, "Notes": [["not", "data"]]})

    for path in (named, first):
        assert parse_risks(path) == [
            RiskRow(project="ALPHA", id="7", title="Scope creep", probability=3, impact=4, response="accept")
        ]


def test_xlsx_baseline_round_trip(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "baseline.xlsx",
        {"Baseline": [["project", "period_end", "planned_value"], ["ALPHA", date(2026, 1, 31), 10.25]]},
    )

    assert parse_baseline(path) == [
        BaselineRow(project="ALPHA", period_end=date(2026, 1, 31), planned_value=Decimal("10.25"))
    ]


def test_header_only_file_imports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "actuals.csv"
    path.write_text(ACTUALS_HEADER + "\n")

    assert parse_actuals(path) == []


# --- bad rows: each reports exactly where and what is allowed ----------------------------------------------


BAD_ACTUALS = [
    pytest.param(
        "ALPHA,31/01/2026,1,1,1",
        "row 2: as_of: must be a date as YYYY-MM-DD (for example 2026-03-31); found '31/01/2026'",
        id="bad-date",
    ),
    pytest.param(
        "ALPHA,2026-02-30,1,1,1",
        "row 2: as_of: must be a date as YYYY-MM-DD (for example 2026-03-31), and a day that exists; "
        "found '2026-02-30'",
        id="date-that-does-not-exist",
    ),
    pytest.param("ALPHA,2026-01-31,1,1,-5", "row 2: actual_cost: must be at least 0; found -5", id="negative"),
    pytest.param(
        "ALPHA,2026-01-31,1,10.125,1",
        "row 2: earned_value: must have at most 2 decimal places; found 10.125",
        id="three-decimals",
    ),
    pytest.param(
        "ALPHA,2026-01-31,about 5,1,1",
        "row 2: planned_value: must be an amount such as 1234.50; found 'about 5'",
        id="non-numeric",
    ),
    pytest.param(
        'ALPHA,2026-01-31,"1,234.50",1,1',
        "row 2: planned_value: must not contain thousands separators or a decimal comma; write digits with '.' "
        "for decimals, such as 1234.50; found '1,234.50'",
        id="thousands-separator",
    ),
    pytest.param(
        "ALPHA,2026-01-31,1,1,",
        "row 2: actual_cost: is required; the cell is empty",
        id="empty-required-cell",
    ),
    pytest.param("   ,2026-01-31,1,1,1", "row 2: project: is required; the cell is empty", id="blank-project"),
]


@pytest.mark.parametrize(("line", "expected"), BAD_ACTUALS)
def test_bad_actuals_row(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "actuals.csv"
    path.write_text(f"{ACTUALS_HEADER}\n{line}\n")

    assert problems_of(parse_actuals, path) == [f"{path}:{expected}"]


def test_unknown_column_is_reported_at_the_header_with_the_allowed_columns(tmp_path: Path) -> None:
    path = tmp_path / "actuals.csv"
    path.write_text(f"{ACTUALS_HEADER},Notes\nALPHA,2026-01-31,1,1,1,fine\n")

    assert problems_of(parse_actuals, path) == [
        f"{path}:row 1: notes: unknown column; allowed columns: {ACTUALS_ALLOWED}"
    ]


def test_missing_column_is_reported_once_for_the_file(tmp_path: Path) -> None:
    path = tmp_path / "actuals.csv"
    path.write_text("project,as_of,planned_value,earned_value\nALPHA,2026-01-31,1,1\nBETA,2026-01-31,1,1\n")

    assert problems_of(parse_actuals, path) == [f"{path}: missing column 'actual_cost'; required: {ACTUALS_REQUIRED}"]


def test_duplicate_as_of_is_an_error_on_the_second_row(tmp_path: Path) -> None:
    path = tmp_path / "actuals.csv"
    path.write_text(f"{ACTUALS_HEADER}\nALPHA,2026-01-31,1,1,1\nBETA,2026-01-31,1,1,1\nALPHA,2026-01-31,2,2,2\n")

    assert problems_of(parse_actuals, path) == [
        f"{path}:row 4: as_of: duplicate of row 2 (project 'ALPHA', as_of 2026-01-31); "
        "each project and as_of date may appear once"
    ]


BAD_RISKS = [
    pytest.param(
        "ALPHA,R-1,Late,3,3,ignore,open",
        f"row 2: response: must be one of {RESPONSES}; found 'ignore'",
        id="bad-response",
    ),
    pytest.param("ALPHA,R-1,Late,0,3,,", "row 2: probability: must be at least 1; found 0", id="probability-zero"),
    pytest.param(
        "ALPHA,R-1,Late,3,high,,",
        "row 2: impact: must be a whole number such as 3; found 'high'",
        id="impact-not-a-number",
    ),
    pytest.param(
        "ALPHA,R-1,Late,2.5,3,,",
        "row 2: probability: must be a whole number such as 3; found '2.5'",
        id="probability-fraction",
    ),
    pytest.param(
        "ALPHA,R-1,Late,3,3,,done",
        "row 2: status: must be one of open or closed; found 'done'",
        id="bad-status",
    ),
    pytest.param("ALPHA,R-1,,3,3,,", "row 2: title: is required; the cell is empty", id="no-title"),
]


@pytest.mark.parametrize(("line", "expected"), BAD_RISKS)
def test_bad_risk_row(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "risks.csv"
    path.write_text(f"{RISKS_HEADER}\n{line}\n")

    assert problems_of(parse_risks, path) == [f"{path}:{expected}"]


def test_duplicate_risk_id_within_a_project(tmp_path: Path) -> None:
    path = tmp_path / "risks.csv"
    path.write_text(f"{RISKS_HEADER}\nALPHA,R-1,Late,3,3,,\nBETA,R-1,Other,1,1,,\nALPHA,R-1,Again,2,2,,\n")

    assert problems_of(parse_risks, path) == [
        f"{path}:row 4: id: duplicate of row 2 (project 'ALPHA', id 'R-1'); each project and risk id may appear once"
    ]


def test_baseline_that_decreases_or_repeats_a_period(tmp_path: Path) -> None:
    path = tmp_path / "baseline.csv"
    path.write_text(
        "project,period_end,planned_value\n"
        "ALPHA,2026-02-28,2000\n"
        "ALPHA,2026-01-31,1000\n"
        "ALPHA,2026-03-31,1500\n"
        "BETA,2026-01-31,5\n"
        "ALPHA,2026-01-31,1000\n"
    )

    assert problems_of(parse_baseline, path) == [
        f"{path}:row 4: planned_value: must be at least 2000, the cumulative planned value at 2026-02-28 (row 2); "
        "found 1500",
        f"{path}:row 6: period_end: duplicate of row 3 (project 'ALPHA', period_end 2026-01-31); "
        "each project and period_end date may appear once",
    ]


BAD_XLSX_CELLS = [
    pytest.param(
        datetime(2026, 1, 31, 9, 30),
        "as_of: must be a date without a time of day; found the date and time 2026-01-31 09:30:00",
        id="date-with-time",
    ),
    pytest.param(
        46053,
        "as_of: must be a date as YYYY-MM-DD (for example 2026-03-31); found the number 46053 "
        "(format the cell as a date)",
        id="date-serial-as-number",
    ),
]


@pytest.mark.parametrize(("as_of", "expected"), BAD_XLSX_CELLS)
def test_bad_xlsx_date_cell(tmp_path: Path, as_of: object, expected: str) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", {"Sheet": [ACTUALS_HEADER.split(","), ["ALPHA", as_of, 1, 1, 1]]})

    assert problems_of(parse_actuals, path) == [f"{path}:row 2: {expected}"]


def test_bad_xlsx_number_cells(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "a.xlsx",
        {"Sheet": [ACTUALS_HEADER.split(","), [], ["ALPHA", date(2026, 1, 31), 10.125, True, -0.5]]},
    )

    assert problems_of(parse_actuals, path) == [
        f"{path}:row 3: planned_value: must have at most 2 decimal places; found 10.125",
        f"{path}:row 3: earned_value: must be an amount such as 1234.50; found the logical value TRUE",
        f"{path}:row 3: actual_cost: must be at least 0; found -0.5",
    ]


def test_every_bad_row_of_a_file_is_reported_in_row_order() -> None:
    path = DATA / "actuals-bad.csv"

    with pytest.raises(ImportRowsError) as caught:
        parse_actuals(path)

    assert caught.value.problems == [
        f"{path}:row 3: as_of: must be a date as YYYY-MM-DD (for example 2026-03-31); found '31/01/2026'",
        f"{path}:row 3: earned_value: must be at least 0; found -900",
        f"{path}:row 3: actual_cost: must have at most 2 decimal places; found 950.125",
        f"{path}:row 5: planned_value: must not contain thousands separators or a decimal comma; write digits "
        "with '.' for decimals, such as 1234.50; found '1,234.50'",
        f"{path}:row 5: earned_value: must be an amount such as 1234.50; found 'abc'",
        f"{path}:row 5: actual_cost: is required; the cell is empty",
        f"{path}:row 6: as_of: duplicate of row 2 (project 'ALPHA', as_of 2026-01-31); "
        "each project and as_of date may appear once",
    ]
    assert isinstance(caught.value, InputError)
    assert caught.value.code == "import.invalid"
    assert caught.value.message.startswith(f"cannot import actuals from {path} (7 problems; nothing imported); first:")


def test_file_and_row_problems_come_together(tmp_path: Path) -> None:
    path = tmp_path / "risks.csv"
    path.write_text("project,id,title,probability,colour\nALPHA,R-1,Late,0,red\n")

    assert problems_of(parse_risks, path) == [
        f"{path}: missing column 'impact'; required: project, id, title, probability, impact",
        f"{path}:row 1: colour: unknown column; allowed columns: {RISKS_ALLOWED}",
        f"{path}:row 2: probability: must be at least 1; found 0",
    ]


def test_duplicate_header_and_values_without_a_header(tmp_path: Path) -> None:
    path = tmp_path / "actuals.csv"
    path.write_text(f"{ACTUALS_HEADER},Project,\nALPHA,2026-01-31,1,1,1,,\nALPHA,2026-02-28,1,1,1,,stray\n")

    assert problems_of(parse_actuals, path) == [
        f"{path}:row 1: project: duplicate column (columns A and F); each column may appear once",
        f"{path}:row 3: column G: has a value but no column name in row 1; name the column or clear it",
    ]


def test_empty_file_has_no_header(tmp_path: Path) -> None:
    path = tmp_path / "actuals.csv"
    path.write_text("\n\n")

    assert problems_of(parse_actuals, path) == [
        f"{path}: the file has no header row; required columns: {ACTUALS_REQUIRED}"
    ]


# --- files that cannot be read at all ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["actuals.txt", "actuals.xls", "actuals"])
def test_unknown_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(f"{ACTUALS_HEADER}\n")

    with pytest.raises(InputError) as caught:
        parse_actuals(path)

    assert not isinstance(caught.value, ImportRowsError)
    assert str(path) in caught.value.message
    assert caught.value.message.endswith("is not supported; use one of .csv, .xlsx")


def test_missing_file_and_directory_are_unreadable(tmp_path: Path) -> None:
    directory = tmp_path / "folder.csv"
    directory.mkdir()

    for path in (tmp_path / "gone.csv", tmp_path / "gone.xlsx"):
        with pytest.raises(InputError, match=r"^cannot read ") as caught:
            read_rows(path)
        assert str(path) in caught.value.message
    with pytest.raises(InputError, match=r"is a directory, not a regular file") as caught:
        read_rows(directory)
    assert str(directory) in caught.value.message


def test_damaged_workbook_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "actuals.xlsx"
    path.write_text(f"{ACTUALS_HEADER}\n")  # a CSV saved under the wrong name

    with pytest.raises(InputError, match=r"is not a readable XLSX workbook") as caught:
        parse_actuals(path)

    assert caught.value.message.startswith(str(path))


def test_csv_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "risks.csv"
    path.write_bytes(f"{RISKS_HEADER}\nALPHA,R-1,Caf\xe9,1,1,,\n".encode("latin-1"))

    with pytest.raises(InputError) as caught:
        parse_risks(path)

    assert caught.value.message == (
        f"{path} is not UTF-8 text (byte 0xe9 at offset {len(RISKS_HEADER) + 14}); save it as CSV UTF-8 (or as .xlsx)"
    )


def test_csv_with_broken_quotes(tmp_path: Path) -> None:
    path = tmp_path / "actuals.csv"
    path.write_text(f'{ACTUALS_HEADER}\nALPHA,2026-01-31,1,1,1\n"ALPHA"x,2026-01-31,1,1,1\n')

    with pytest.raises(InputError, match=r"actuals\.csv:row 3: cannot read this CSV row \("):
        parse_actuals(path)


# --- the row models on their own ---------------------------------------------------------------------------


def test_row_model_rejects_unknown_column_naming_the_allowed_ones() -> None:
    with pytest.raises(ValidationError, match=f"unknown column 'notes'; allowed columns: {ACTUALS_ALLOWED}"):
        ActualsRow.model_validate(
            {"project": "A", "as_of": "2026-01-31", "planned_value": 1, "earned_value": 1, "actual_cost": 1, "Notes": 1}
        )


def test_row_model_matches_columns_case_insensitively_and_is_frozen() -> None:
    row = BaselineRow.model_validate({" Project ": "A", "PERIOD END": "2026-01-31", "planned_value": "1.5"})

    assert row == BaselineRow(project="A", period_end=date(2026, 1, 31), planned_value=Decimal("1.5"))
    with pytest.raises(ValidationError):
        row.project = "B"  # type: ignore[misc]


_AMOUNTS = st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2, allow_nan=False)


@given(_AMOUNTS)
def test_amounts_with_two_places_read_exactly_from_text_and_from_number_cells(amount: Decimal) -> None:
    """A float cell holds at most 15 significant digits here, which Decimal(str(float)) gives back exactly."""
    for cell in (str(amount), float(amount)):
        row = BaselineRow(project="A", period_end=date(2026, 1, 31), planned_value=cell)  # type: ignore[arg-type]
        assert row.planned_value == amount


@given(
    st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False).filter(
        lambda d: d != d.quantize(1 / Decimal(100))
    )
)
def test_amounts_with_three_places_are_refused(amount: Decimal) -> None:
    with pytest.raises(ValidationError, match="must have at most 2 decimal places"):
        BaselineRow(project="A", period_end=date(2026, 1, 31), planned_value=str(amount))  # type: ignore[arg-type]
