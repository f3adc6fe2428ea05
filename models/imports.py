"""Importing project data (actuals, time-phased baseline, risk register) from CSV and XLSX, all or nothing.

A PMO analyst fills these files in a spreadsheet, so a failed import must read like a spreadsheet: every
problem names the file, the row number the analyst sees (the header is row 1) and the column, says what is
allowed, and all problems come at once. Nothing is imported from a file with any bad row: half an actuals
file would give the gate an earned-value picture that no one ever reported.

Amounts are exact: text is parsed as written, and XLSX numbers go through ``Decimal(str(value))``, the
shortest text that reads back as the same float, which is what the cell shows. Text with thousands
separators or a decimal comma is refused rather than guessed at: ``1,234`` is a thousand in one country and
barely more than one in another.

Files are capped (``gates.vocabulary.limits``) before a parser sees them: only regular files within
``PHASEGATE_MAX_IMPORT_MB``; an XLSX whose parts would unzip past ``PHASEGATE_MAX_XLSX_UNZIPPED_MB`` is refused
from its zip directory alone (a 300,000-row workbook took 42 s and 730 MB in openpyxl); and reading stops
at ``PHASEGATE_MAX_IMPORT_ROWS`` rows with one clear refusal instead of a long, memory-hungry import.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import MAX_AMOUNT
from phasegate.gates.vocabulary.limits import DEFAULT_LIMITS, IntakeLimits, megabytes, raise_hint
from phasegate.models.file_intake import FileTooLargeError, open_regular, read_chunks

ALLOWED_SUFFIXES = (".csv", ".xlsx")
CSV_DELIMITERS = (",", ";", "\t")

RiskResponse = Literal["avoid", "mitigate", "transfer", "accept", "escalate", "exploit", "enhance", "share"]
RiskStatus = Literal["open", "closed"]


class ImportRowsError(InputError):
    """A file failed to import; ``problems`` holds one ``FILE:row N: column: message`` (or ``FILE: message``) each."""

    code = "import.invalid"

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


def column_name(raw: object) -> str:
    """How a header cell is matched: trimmed, case-insensitive, inner spaces as ``_`` ("Planned Value")."""
    return "_".join(str(raw).split()).lower()


# --- reading a grid of cells -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    header_row: int
    header: list[str]
    rows: list[tuple[int, dict[str, object]]]


def _clean(value: object) -> object:
    """Surrounding spaces are invisible in a spreadsheet, and an empty text cell is an empty cell."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _csv_delimiter(text: str) -> str:
    """The delimiter of the header line: the one of ``, ; tab`` that occurs most often outside quotes.

    The header is the line to judge by: column names never contain the delimiter, while data cells may
    (a title with a comma in a semicolon file). A header with none of them is one column: any will do.
    """
    counts = dict.fromkeys(CSV_DELIMITERS, 0)
    quoted = False
    started = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "\r\n":
            if started:
                break
        elif not quoted and char in counts:
            counts[char] += 1
        if not char.isspace():
            started = True
    best = max(CSV_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_capped(path: Path, limits: IntakeLimits) -> bytes:
    """The whole file, if it is a regular file within the import size cap."""
    cap, what, setting = limits.import_bytes, "import files", "import_bytes"
    try:
        with open_regular(path, label="", max_bytes=cap, what=what, setting=setting) as handle:
            return b"".join(read_chunks(handle, label="", path=path, max_bytes=cap, what=what, setting=setting))
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from error


def _too_many_rows(path: Path, limits: IntakeLimits) -> FileTooLargeError:
    return FileTooLargeError(
        f"{path}: more than {limits.import_rows} rows; an import file may have at most {limits.import_rows} rows "
        f"({raise_hint('import_rows')}); split the file; nothing imported"
    )


def _csv_grid(path: Path, limits: IntakeLimits) -> list[tuple[int, Sequence[object]]]:
    raw = _read_capped(path, limits)
    try:
        text = raw.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte order mark; others do not
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path} is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}); "
            "save it as CSV UTF-8 (or as .xlsx)"
        ) from error
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_csv_delimiter(text), strict=True)
    grid: list[tuple[int, Sequence[object]]] = []
    number = 0
    try:
        for number, record in enumerate(reader, start=1):
            if number > limits.import_rows + 1:  # the header row is not a data row
                raise _too_many_rows(path, limits)
            grid.append((number, record))
    except csv.Error as error:
        raise InputError(f"{path}:row {number + 1}: cannot read this CSV row ({error}); check its quotes") from error
    return grid


def _column_letter(index: int) -> str:
    """Spreadsheet column letters for a 0-based index (0 -> A, 26 -> AA), as the analyst sees them."""
    letters = ""
    number = index + 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _sheet_names(kind: str) -> set[str]:
    return {kind, f"{kind}s", kind.removesuffix("s")}


def _check_unzipped(path: Path, content: bytes, limits: IntakeLimits) -> None:
    """Refuse a workbook whose parts would unzip past the cap, from the zip directory alone (nothing inflated).
    A damaged zip is left to openpyxl, which reports it as an unreadable workbook."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return
    total = sum(part.file_size for part in parts)
    if total > limits.xlsx_unzipped_bytes:
        largest = max(parts, key=lambda part: part.file_size)
        raise FileTooLargeError(
            f"{path}: unzips to {megabytes(total)} ({largest.filename} alone {megabytes(largest.file_size)}); "
            f"an XLSX import may unzip to at most {megabytes(limits.xlsx_unzipped_bytes)} "
            f"({raise_hint('xlsx_unzipped_bytes')}); split the workbook or save it as CSV UTF-8; nothing imported"
        )


def _xlsx_grid(path: Path, kind: str | None, limits: IntakeLimits) -> list[tuple[int, Sequence[object]]]:
    content = _read_capped(path, limits)
    _check_unzipped(path, content, limits)
    import openpyxl  # about 0.1 s: paid by XLSX imports only, not by CSV imports or the CLI's help

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from error
    # openpyxl reports a damaged or mislabelled workbook with many exception types (zip, XML, key, value).
    except Exception as error:
        raise InputError(
            f"{path} is not a readable XLSX workbook ({type(error).__name__}: {error}); "
            "save it from the spreadsheet as .xlsx (Excel Workbook) or as CSV UTF-8"
        ) from error
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise InputError(f"{path} has no worksheet; put the rows on the first worksheet")
        wanted = _sheet_names(kind) if kind else set()
        sheet = next((s for s in sheets if column_name(s.title) in wanted), sheets[0])
        # Some writers store a wrong sheet size; without one, openpyxl reads every row the file really has.
        reset = getattr(sheet, "reset_dimensions", None)
        if reset is not None:
            reset()
        try:
            grid: list[tuple[int, Sequence[object]]] = []
            for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
                if number > limits.import_rows + 1:  # the header row is not a data row
                    raise _too_many_rows(path, limits)
                grid.append((number, tuple(values)))
            return grid
        except InputError:
            raise
        except Exception as error:  # the sheet XML is parsed lazily, so damage can surface only here
            raise InputError(
                f"{path} is not a readable XLSX workbook (sheet {sheet.title!r}: {type(error).__name__}: {error})"
            ) from error
    finally:
        workbook.close()


def _table(path: Path, grid: Iterable[tuple[int, Sequence[object]]], *, what: str) -> _Table:
    """Header is the first non-blank row; later blank rows are skipped; values are keyed by column name."""
    problems: list[str] = []
    header_row = 0
    header: list[str] = []
    rows: list[tuple[int, dict[str, object]]] = []
    stray: dict[int, int] = {}  # column index without a name -> first row with a value there
    for number, raw in grid:
        cells = [_clean(value) for value in raw]
        if all(value is None for value in cells):
            continue
        if not header_row:
            header_row = number
            header = ["" if value is None else column_name(value) for value in cells]
            first: dict[str, int] = {}
            for index, name in enumerate(header):
                if name and first.setdefault(name, index) != index:
                    problems.append(
                        f"{path}:row {number}: {name}: duplicate column (columns {_column_letter(first[name])} "
                        f"and {_column_letter(index)}); each column may appear once"
                    )
            continue
        values: dict[str, object] = {name: None for name in header if name}
        for index, value in enumerate(cells):
            name = header[index] if index < len(header) else ""
            if name:
                if values[name] is None:  # with a duplicate column (reported above) the first one counts
                    values[name] = value
            elif value is not None:
                stray.setdefault(index, number)
        rows.append((number, values))
    for index, number in sorted(stray.items()):
        problems.append(
            f"{path}:row {number}: column {_column_letter(index)}: has a value but no column name in "
            f"row {header_row}; name the column or clear it"
        )
    if problems:
        _raise(path, what, problems)
    return _Table(header_row, [name for name in header if name], rows)


def _read_table(path: Path, kind: str | None, limits: IntakeLimits) -> _Table:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _table(path, _csv_grid(path, limits), what=kind or "rows")
    if suffix == ".xlsx":
        return _table(path, _xlsx_grid(path, kind, limits), what=kind or "rows")
    shown = repr(path.suffix) if path.suffix else "no extension"
    raise InputError(
        f"cannot import {path}: file type {shown} is not supported; use one of {', '.join(ALLOWED_SUFFIXES)}"
    )


def read_rows(
    path: Path, *, kind: str | None = None, limits: IntakeLimits = DEFAULT_LIMITS
) -> tuple[list[str], list[tuple[int, dict[str, object]]]]:
    """Header (column names as matched) and ``(row number, values)`` of every non-blank data row, in order.

    CSV is UTF-8 with or without BOM, delimited by comma, semicolon or tab. XLSX is read with cached formula
    values from the worksheet named like ``kind`` ("risks" or "risk" for kind "risks"), else the first one.
    Empty cells are ``None``; text is trimmed; XLSX numbers and dates keep their cell types.
    """
    table = _read_table(path, kind, limits)
    return table.header, table.rows


# --- cell values -------------------------------------------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_WHOLE_NUMBER = re.compile(r"[+-]?\d+")
_ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?)?")
_SEPARATORS = re.compile(r"[,'\s\u00a0\u202f]")

_EMPTY = "is required; the cell is empty"


def _describe(value: object) -> str:
    """A cell as the analyst saw it, not as a Python type."""
    if isinstance(value, bool):
        return f"the logical value {str(value).upper()}"
    if isinstance(value, datetime):
        return f"the date and time {value.isoformat(sep=' ')}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, time):
        return f"the time {value.isoformat()}"
    if isinstance(value, (int, float, Decimal)):
        return f"the number {value}"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    return f"a {type(value).__name__} value"


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _optional(parse: Callable[[object], Any]) -> Callable[[object], Any]:
    def parse_optional(value: object) -> Any:
        return None if _is_empty(value) else parse(value)

    return parse_optional


def _text(value: object) -> str:
    """Text; a number typed into a text column (a numeric project key) is taken as its digits."""
    if _is_empty(value):
        raise ValueError(_EMPTY)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError(f"must be text; found {_describe(value)}")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)


def _amount(value: object) -> Decimal:
    """A non-negative amount with at most two decimal places, exactly as written or as the cell holds it."""
    if _is_empty(value):
        raise ValueError(_EMPTY)
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError(f"must be an amount such as 1234.50; found {_describe(value)}")
    if isinstance(value, str):
        text = value.strip()
        if not _PLAIN_NUMBER.fullmatch(text):
            if _PLAIN_NUMBER.fullmatch(_SEPARATORS.sub("", text)):
                raise ValueError(
                    "must not contain thousands separators or a decimal comma; write digits with '.' for "
                    f"decimals, such as 1234.50; found {text!r}"
                )
            raise ValueError(f"must be an amount such as 1234.50; found {text!r}")
        amount = Decimal(text)
    elif isinstance(value, float):
        amount = Decimal(str(value))  # the shortest text that is this float: what the cell shows
    else:
        amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"must be a finite amount; found {_describe(value)}")
    if amount < 0:
        raise ValueError(f"must be at least 0; found {amount}")
    if amount > MAX_AMOUNT:
        raise ValueError(f"must be at most {int(MAX_AMOUNT)}; found {amount}")
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError(f"must have at most 2 decimal places; found {amount}")
    return abs(amount) if amount.is_zero() else amount  # "-0" and "0" are the same amount


def _date(value: object) -> date:
    """A calendar date: an XLSX date cell (read as midnight) or ISO text, never a guess at 03/04/2026."""
    if _is_empty(value):
        raise ValueError(_EMPTY)
    if isinstance(value, datetime):
        if value.timetz() != time(0):
            raise ValueError(f"must be a date without a time of day; found {_describe(value)}")
        return value.date()
    if isinstance(value, date):
        return value
    hint = "must be a date as YYYY-MM-DD (for example 2026-03-31)"
    if isinstance(value, str):
        text = value.strip()
        match = _ISO_DATE.fullmatch(text)
        if match is None:
            raise ValueError(f"{hint}; found {text!r}")
        try:
            return date.fromisoformat(match.group(1))
        except ValueError:
            raise ValueError(f"{hint}, and a day that exists; found {text!r}") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(f"{hint}; found {_describe(value)} (format the cell as a date)")
    raise ValueError(f"{hint}; found {_describe(value)}")


def _level(value: object) -> int:
    """A whole number of 1 or more; the template's risk scale sets the top, which a criterion checks."""
    if _is_empty(value):
        raise ValueError(_EMPTY)
    level: int
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        level = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        level = value
    elif isinstance(value, (float, Decimal)) and math.isfinite(value) and value == int(value):
        level = int(value)
    else:
        raise ValueError(f"must be a whole number such as 3; found {_describe(value)}")
    if level < 1:
        raise ValueError(f"must be at least 1; found {level}")
    return level


def _count(value: object) -> int:
    """A whole number of 0 or more (defects)."""
    if _is_empty(value):
        raise ValueError(_EMPTY)
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        count = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif isinstance(value, (float, Decimal)) and math.isfinite(value) and value == int(value):
        count = int(value)
    else:
        raise ValueError(f"must be a whole number such as 12; found {_describe(value)}")
    if count < 0:
        raise ValueError(f"must be at least 0; found {count}")
    return count


def _percent(value: object) -> Decimal:
    """A percentage from 0 to 100 with at most two decimal places (97.5 means 97.5 %)."""
    try:
        share = _amount(value)
    except ValueError as error:
        raise ValueError(str(error).replace("an amount such as 1234.50", "a percentage such as 97.5")) from None
    if share > 100:
        raise ValueError(f"must be a percentage from 0 to 100; found {share}")
    return share


def _one_of(allowed: tuple[str, ...]) -> Callable[[object], str]:
    words = ", ".join(allowed[:-1]) + " or " + allowed[-1]

    def parse_choice(value: object) -> str:
        if _is_empty(value):
            raise ValueError(_EMPTY)
        choice = value.strip().lower() if isinstance(value, str) else None
        if choice not in allowed:
            raise ValueError(f"must be one of {words}; found {_describe(value)}")
        return choice

    return parse_choice


def _status(value: object) -> str:
    return "open" if _is_empty(value) else _one_of(get_args(RiskStatus))(value)


Text = Annotated[str, BeforeValidator(_text)]
OptionalText = Annotated[str | None, BeforeValidator(_optional(_text))]
Amount = Annotated[Decimal, BeforeValidator(_amount)]
OptionalAmount = Annotated[Decimal | None, BeforeValidator(_optional(_amount))]
OptionalCount = Annotated[int | None, BeforeValidator(_optional(_count))]
OptionalPercent = Annotated[Decimal | None, BeforeValidator(_optional(_percent))]
CellDate = Annotated[date, BeforeValidator(_date)]
Level = Annotated[int, BeforeValidator(_level)]


# --- row models --------------------------------------------------------------------------------------------


class ImportRow(BaseModel):
    """One data row; column names match case-insensitively and trimmed, and an unknown column is an error."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _match_columns(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        named = {column_name(key): value for key, value in data.items()}
        unknown = [name for name in named if name not in cls.model_fields]
        if unknown:
            listed = ", ".join(repr(name) for name in unknown)
            raise ValueError(f"unknown column {listed}; allowed columns: {', '.join(cls.model_fields)}")
        return named


class ActualsRow(ImportRow):
    """Cumulative values to ``as_of`` for one project (EVM inputs); ``etc`` only when the team estimated one;
    the quality metrics of the same report when it has them (open defects, test pass rate and acceptance in %)."""

    project: Text
    as_of: CellDate
    planned_value: Amount
    earned_value: Amount
    actual_cost: Amount
    etc: OptionalAmount = None
    defects: OptionalCount = None
    test_pass_rate: OptionalPercent = None
    acceptance: OptionalPercent = None


class BaselineRow(ImportRow):
    """One point of the time-phased baseline: cumulative planned value at the end of a period."""

    project: Text
    period_end: CellDate
    planned_value: Amount


class RiskRow(ImportRow):
    """One risk register entry; ``cause``/``event``/``effect`` hold the risk statement when it is written out."""

    project: Text
    id: Text
    title: Text
    category: OptionalText = None
    owner: OptionalText = None
    probability: Level
    impact: Level
    response: Annotated[RiskResponse | None, BeforeValidator(_optional(_one_of(get_args(RiskResponse))))] = None
    mitigation: OptionalText = None
    status: Annotated[RiskStatus, BeforeValidator(_status)] = "open"
    cause: OptionalText = None
    event: OptionalText = None
    effect: OptionalText = None


def _month(value: object) -> date:
    """A month as ``YYYY-MM`` text, or a date cell on the first of the month (how a spreadsheet stores a month)."""
    if _is_empty(value):
        raise ValueError(_EMPTY)
    if isinstance(value, str):
        text = value.strip()
        match = re.fullmatch(r"(\d{4})-(\d{2})", text)
        if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
            raise ValueError(f"must be a month as YYYY-MM (for example 2027-01); found {text!r}")
        return date(int(match.group(1)), int(match.group(2)), 1)
    day = _date(value)
    if day.day != 1:
        raise ValueError(f"must be a month as YYYY-MM or the first day of a month; found {_describe(value)}")
    return day


def _hours(value: object) -> Decimal:
    """Hours or person-days: an amount with at most two decimal places, at most a million."""
    try:
        hours = _amount(value)
    except ValueError as error:
        raise ValueError(str(error).replace("an amount such as 1234.50", "a number of hours such as 120.5")) from None
    if hours > 1_000_000:
        raise ValueError(f"must be at most 1000000; found {hours}")
    return hours


class DemandPlanRow(ImportRow):
    """Hours (or person-days, ``fte_days``: one of the two) of a role that a project's stage needs in a month;
    ``person`` names who is planned for it, when the plan says."""

    project: Text
    stage: Text
    role: Text
    month: Annotated[date, BeforeValidator(_month)]
    hours: Annotated[Decimal | None, BeforeValidator(_optional(_hours))] = None
    fte_days: Annotated[Decimal | None, BeforeValidator(_optional(_hours))] = None
    person: OptionalText = None

    @model_validator(mode="after")
    def _one_quantity(self) -> DemandPlanRow:
        if (self.hours is None) == (self.fte_days is None):
            raise ValueError("give exactly one of hours or fte_days")
        return self


# --- files -------------------------------------------------------------------------------------------------

_RowT = TypeVar("_RowT", bound=ImportRow)


def _raise(path: Path, what: str, problems: list[str]) -> NoReturn:
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    raise ImportRowsError(
        f"cannot import {what} from {path} ({count}; nothing imported); first: {problems[0]}", problems
    )


def _key(values: Mapping[str, object], columns: dict[str, Callable[[object], object]]) -> tuple[object, ...] | None:
    """A row's identity from its own cells, even when another of its cells is bad, so duplicates show at once."""
    try:
        return tuple(parse(values.get(name)) for name, parse in columns.items())
    except ValueError:
        return None


def _parse_file(
    path: Path,
    model: type[_RowT],
    *,
    kind: str,
    key: dict[str, Callable[[object], object]],
    key_words: str,
    limits: IntakeLimits,
) -> tuple[list[tuple[int, _RowT]], list[str], list[tuple[int, str]]]:
    """Validate every row; return the good rows, file-level problems and ``(row, problem)`` pairs."""
    table = _read_table(path, kind, limits)
    allowed = list(model.model_fields)
    required = [name for name, field in model.model_fields.items() if field.is_required()]
    if not table.header:
        _raise(path, kind, [f"{path}: the file has no header row; required columns: {', '.join(required)}"])
    missing = [name for name in required if name not in table.header]
    file_problems = [f"{path}: missing column {name!r}; required: {', '.join(required)}" for name in missing]
    row_problems = [
        (
            table.header_row,
            f"{path}:row {table.header_row}: {name}: unknown column; allowed columns: {', '.join(allowed)}",
        )
        for name in table.header
        if name not in allowed
    ]
    parsed: list[tuple[int, _RowT]] = []
    seen: dict[tuple[object, ...], int] = {}
    duplicate_column = list(key)[-1]
    for number, values in table.rows:
        known = {name: value for name, value in values.items() if name in allowed}
        try:
            parsed.append((number, model.model_validate(known)))
        except ValidationError as error:
            for detail in error.errors():
                column = str(detail["loc"][0]) if detail["loc"] else ""
                if detail["type"] == "missing":
                    if column in missing:
                        continue  # the missing column is reported once for the file
                    message = _EMPTY
                else:
                    message = str(detail["msg"]).removeprefix("Value error, ")
                where = f"{column}: " if column else ""
                row_problems.append((number, f"{path}:row {number}: {where}{message}"))
        identity = _key(known, key)
        if identity is None:
            continue
        first = seen.setdefault(identity, number)
        if first != number:
            shown = ", ".join(f"{name} {_shown(value)}" for name, value in zip(key, identity, strict=True))
            row_problems.append(
                (
                    number,
                    f"{path}:row {number}: {duplicate_column}: duplicate of row {first} ({shown}); "
                    f"each {key_words} may appear once",
                )
            )
    return parsed, file_problems, row_problems


def _shown(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else repr(value)


def _finish(
    path: Path, kind: str, rows: list[tuple[int, _RowT]], problems: list[str], by_row: list[tuple[int, str]]
) -> list[_RowT]:
    by_row.sort(key=lambda item: item[0])  # stable: within a row, problems keep the column order
    everything = problems + [text for _, text in by_row]
    if everything:
        _raise(path, kind, everything)
    return [row for _, row in rows]


def parse_actuals(path: Path, *, limits: IntakeLimits = DEFAULT_LIMITS) -> list[ActualsRow]:
    """Every row of an actuals file, or ImportRowsError listing every problem; one row per project and date."""
    rows, problems, by_row = _parse_file(
        path,
        ActualsRow,
        kind="actuals",
        key={"project": _text, "as_of": _date},
        key_words="project and as_of date",
        limits=limits,
    )
    return _finish(path, "actuals", rows, problems, by_row)


def parse_baseline(path: Path, *, limits: IntakeLimits = DEFAULT_LIMITS) -> list[BaselineRow]:
    """Every baseline point, or ImportRowsError; per project the cumulative planned value never decreases."""
    rows, problems, by_row = _parse_file(
        path,
        BaselineRow,
        kind="baseline",
        key={"project": _text, "period_end": _date},
        key_words="project and period_end date",
        limits=limits,
    )
    by_project: dict[str, list[tuple[int, BaselineRow]]] = {}
    for number, row in rows:
        by_project.setdefault(row.project, []).append((number, row))
    for points in by_project.values():
        points.sort(key=lambda point: point[1].period_end)
        for (before_number, before), (number, row) in itertools.pairwise(points):
            if row.period_end != before.period_end and row.planned_value < before.planned_value:
                by_row.append(
                    (
                        number,
                        f"{path}:row {number}: planned_value: must be at least {before.planned_value}, the cumulative "
                        f"planned value at {before.period_end.isoformat()} (row {before_number}); found "
                        f"{row.planned_value}",
                    )
                )
    return _finish(path, "baseline", rows, problems, by_row)


def parse_risks(path: Path, *, limits: IntakeLimits = DEFAULT_LIMITS) -> list[RiskRow]:
    """Every risk register row, or ImportRowsError listing every problem; one row per project and risk id."""
    rows, problems, by_row = _parse_file(
        path,
        RiskRow,
        kind="risks",
        key={"project": _text, "id": _text},
        key_words="project and risk id",
        limits=limits,
    )
    return _finish(path, "risks", rows, problems, by_row)


def parse_demand(path: Path, *, limits: IntakeLimits = DEFAULT_LIMITS) -> list[tuple[int, DemandPlanRow]]:
    """Every demand row with its row number (the use case names rows it refuses), or ImportRowsError listing every
    problem; one row per project, stage, role, month and person."""
    rows, problems, by_row = _parse_file(
        path,
        DemandPlanRow,
        kind="demand",
        key={"project": _text, "stage": _text, "role": _text, "person": _optional(_text), "month": _month},
        key_words="project, stage, role, person and month",
        limits=limits,
    )
    _finish(path, "demand", rows, problems, by_row)
    return rows
