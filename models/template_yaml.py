"""Loading lifecycle templates from YAML, with every problem pointing at the line and column that causes it.

A PMO author edits these files by hand, so a load that fails must say *where* and *what is allowed*, all
problems at once, in the ``FILE:LINE:COL: message`` form that editors and CI logs turn into links. PyYAML's
composed node tree keeps the marks that Pydantic's error locations lack; this module joins the two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from phasegate.gates.vocabulary.canonical import sha256_hex
from phasegate.gates.vocabulary.errors import InputError, TemplateError
from phasegate.gates.vocabulary.template import (
    DeliverableDef,
    GateDef,
    LifecycleTemplate,
    Location,
    StageDef,
    reference_problems,
)

SCHEMA_ID = "urn:phasegate:schema:lifecycle-template"

# Patterns of gates/vocabulary/template.py, said in words: an author should not have to read a regular expression.
_PATTERN_WORDS = {
    r"^[a-z0-9][a-z0-9-]*$": "an id of lowercase letters, digits and hyphens, starting with a letter or digit "
    "(for example 'business-case')",
    r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$": "a dotted code of lowercase words joined by dots "
    "(for example 'doc.required_approved')",
    r"^[a-z][a-z0-9_-]*$": "a role name of lowercase letters, digits, '_' or '-', starting with a letter "
    "(for example 'sponsor')",
    r"^[a-z0-9]+$": "a file format of lowercase letters and digits (for example 'pdf')",
}

_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
}

# In a union (criterion params) whole numbers and decimals are one choice for the author.
_UNION_WORDS = {"int_type": "a number", "float_type": "a number", "bool_type": "true/false"}


@dataclass(frozen=True, order=True)
class _Problem:
    line: int
    column: int
    message: str


def _at(mark: yaml.Mark | None, message: str) -> _Problem:
    if mark is None:
        return _Problem(1, 1, message)
    return _Problem(mark.line + 1, mark.column + 1, message)


def _describe(value: object) -> str:
    """Name a parsed YAML value the way an author wrote it, not as a Python type."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"the value {node.value!r}"


def _field_path(loc: Sequence[str | int]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "top level"


def _iter_mappings(root: yaml.Node) -> Iterator[yaml.MappingNode]:
    """Every mapping node once, even when anchors and aliases make the tree a graph."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            yield node
            for key, value in node.value:
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _duplicate_keys(root: yaml.Node) -> list[_Problem]:
    """PyYAML silently keeps the last of two equal keys; an author almost never means that."""
    problems: list[_Problem] = []
    for mapping in _iter_mappings(root):
        first: dict[tuple[str, str], yaml.Node] = {}
        for key, _ in mapping.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue
            previous = first.setdefault((key.tag, key.value), key)
            if previous is not key:
                problems.append(
                    _at(
                        key.start_mark,
                        f"duplicate key {key.value!r} in this mapping (first at line {previous.start_mark.line + 1}); "
                        "each key may appear once",
                    )
                )
    return problems


def _walk(root: yaml.Node, loc: Sequence[str | int]) -> tuple[yaml.Node, yaml.Node | None, int]:
    """Follow a Pydantic location through the node tree: (value node, its key node if any, parts consumed).

    Stops at the deepest node it can reach (a key that came from a merge, a union member's tag), so a
    location always resolves to somewhere sensible in the file.
    """
    node, key_node, consumed = root, None, 0
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key, value in node.value:  # the last equal key wins, as in the constructed data
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    found = (key, value)
            if found is None:
                break
            key_node, node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            key_node, node = None, node.value[part]
        else:
            break
        consumed += 1
    return node, key_node, consumed


def _model_at(loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The Pydantic model that validates the mapping at ``loc``, to list the fields it allows."""
    current: Any = LifecycleTemplate
    for part in loc:
        if isinstance(part, int):
            if get_origin(current) is not tuple:
                return None
            current = get_args(current)[0]
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field_list(model: type[BaseModel] | None, *, required_only: bool) -> str:
    if model is None:
        return ""
    names = [name for name, field in model.model_fields.items() if field.is_required() or not required_only]
    return ", ".join(names)


def _message(error: Any) -> str:
    """One error in the author's terms: the field, what was found, what is allowed."""
    kind: str = error["type"]
    loc: tuple[str | int, ...] = tuple(error["loc"])
    ctx: dict[str, Any] = error.get("ctx") or {}
    where = _field_path(loc)
    found = _describe(error.get("input"))
    if kind == "missing":
        required = _field_list(_model_at(loc[:-1]), required_only=True)
        return f"{_field_path(loc[:-1])}: missing required field {loc[-1]!r} (required here: {required})"
    if kind in ("extra_forbidden", "invalid_key"):
        allowed = _field_list(_model_at(loc[:-1]), required_only=False)
        return f"{_field_path(loc[:-1])}: unknown field {loc[-1]!r}; allowed here: {allowed}"
    if kind == "enum":
        return f"{where}: {found} is not allowed; use one of {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return f"{where}: {found} is not {_PATTERN_WORDS.get(pattern, f'text matching {pattern}')}"
    if kind == "string_too_short":
        return f"{where}: must not be empty"
    if kind == "string_too_long":
        return f"{where}: must be at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        least = ctx.get("min_length")
        noun = str(loc[-1]).removesuffix("s") if loc and isinstance(loc[-1], str) else "item"
        given = error.get("input")
        count = len(given) if isinstance(given, (list, tuple)) else 0
        return f"{where}: must list at least {least} {noun}{'' if least == 1 else 's'}; found {count or 'none'}"
    if kind in ("greater_than_equal", "less_than_equal"):
        low_high = f"at least {ctx['ge']}" if "ge" in ctx else f"at most {ctx['le']}"
        return f"{where}: must be {low_high}; found {found}"
    if kind == "value_error":
        return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"
    if kind in _TYPE_WORDS:
        return f"{where}: must be {_TYPE_WORDS[kind]}; found {found}"
    return f"{where}: {error['msg']}"


def _validation_problems(root: yaml.Node, errors: list[Any]) -> list[_Problem]:
    problems: list[_Problem] = []
    # Union members (criterion params) each report their own type error; one message per value is enough.
    unions: dict[tuple[str | int, ...], tuple[yaml.Node, list[Any]]] = {}
    for error in errors:
        loc: tuple[str | int, ...] = tuple(error["loc"])
        kind = error["type"]
        given = error.get("input")
        if kind == "too_short" and isinstance(given, (list, tuple)) and len(given) >= error["ctx"]["min_length"]:
            continue  # enough items were given but some are invalid: those items' own errors say why
        if kind == "value_error" and loc == ():
            continue  # cross-reference errors: reported separately, each at its own list item
        if kind == "missing":
            node, _, _ = _walk(root, loc[:-1])
            problems.append(_at(node.start_mark, _message(error)))
            continue
        node, key_node, consumed = _walk(root, loc)
        if kind in ("extra_forbidden", "invalid_key"):
            problems.append(_at((key_node or node).start_mark, _message(error)))
        elif consumed < len(loc) and kind in _TYPE_WORDS and all(isinstance(p, str) for p in loc[consumed:]):
            unions.setdefault(loc[:consumed], (node, []))[1].append(error)
        else:
            problems.append(_at(node.start_mark, _message(error)))
    for prefix, (node, members) in unions.items():
        if len(members) == 1:
            problems.append(_at(node.start_mark, _message(members[0])))
            continue
        words = list(dict.fromkeys(_UNION_WORDS.get(m["type"], _TYPE_WORDS[m["type"]]) for m in members))
        allowed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
        problems.append(
            _at(node.start_mark, f"{_field_path(prefix)}: must be {allowed}; found {_describe(members[0]['input'])}")
        )
    return problems


def _reference_view(data: dict[str, Any]) -> tuple[LifecycleTemplate, dict[str, list[int]]]:
    """A template built without validation from the items whose ids are text, for ``reference_problems``.

    Cross-references are worth reporting even when some other field is wrong, so they cannot wait for a
    fully valid model. Items without a usable id are left out (their own error is reported) and the index
    map translates view positions back to positions in the file.
    """

    def items(key: str) -> list[tuple[int, dict[str, Any]]]:
        raw = data.get(key)
        if not isinstance(raw, list):
            return []
        return [(i, item) for i, item in enumerate(raw) if isinstance(item, dict) and isinstance(item.get("id"), str)]

    deliverables = items("deliverables")
    stages = items("stages")
    gates = items("gates")
    view_gates = []
    for _, gate in gates:
        after = gate.get("after")
        refs = gate.get("deliverables")
        view_gates.append(
            GateDef.model_construct(
                id=gate["id"],
                name="",
                after=after if isinstance(after, str) else "",
                deliverables=tuple(r if isinstance(r, str) else "" for r in refs) if isinstance(refs, list) else (),
            )
        )
    view = LifecycleTemplate.model_construct(
        id="",
        version=1,
        name="",
        deliverables=tuple(DeliverableDef.model_construct(id=d["id"], name="") for _, d in deliverables),
        stages=tuple(StageDef.model_construct(id=s["id"], name="") for _, s in stages),
        gates=tuple(view_gates),
    )
    index = {
        "deliverables": [i for i, _ in deliverables],
        "stages": [i for i, _ in stages],
        "gates": [i for i, _ in gates],
    }
    return view, index


def _reference_problem_list(root: yaml.Node, data: dict[str, Any], field_errors: set[Location]) -> list[_Problem]:
    view, index = _reference_view(data)
    problems: list[_Problem] = []
    for loc, message in reference_problems(view):
        kind, position, *rest = loc
        file_loc: Location = (kind, index[str(kind)][int(position)], *rest)
        if file_loc in field_errors:
            continue  # a wrong type or missing value there is already reported; one message per place
        node, _, _ = _walk(root, file_loc)
        problems.append(_at(node.start_mark, f"{_field_path(file_loc)}: {message}"))
    return problems


def _reader_problem(text: str, error: yaml.reader.ReaderError) -> _Problem:
    position = error.position
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = error.character
    shown = f"U+{character:04X}" if isinstance(character, int) else repr(character)
    return _Problem(line, column, f"invalid YAML: control character {shown} is not allowed; remove it")


def _yaml_problem(error: yaml.MarkedYAMLError) -> _Problem:
    problem = error.problem or "cannot parse this"
    if error.context and problem.startswith("but "):  # the composer's "expected X ... but found Y"
        detail = f"{error.context}, {problem}"
    elif error.context:
        where = f" that starts at line {error.context_mark.line + 1}" if error.context_mark is not None else ""
        detail = f"{problem} ({error.context}{where})"
    else:
        detail = problem
    return _at(error.problem_mark or error.context_mark, f"invalid YAML: {detail}")


def _parse(text: str) -> tuple[yaml.Node | None, Any, list[_Problem]]:
    """Compose (for marks) and construct (for data) with the safe loader only: a template runs no code."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None, []
        duplicates = _duplicate_keys(root)
        return root, loader.construct_document(root), duplicates
    finally:
        loader.dispose()


TemplateCheck = Callable[[LifecycleTemplate], list[tuple[Location, str]]]


def load_template_text(text: str, *, source: str, check: TemplateCheck | None = None) -> LifecycleTemplate:
    """Parse and validate one template; raise TemplateError listing every problem as ``source:line:col: msg``.

    ``check`` adds problems the format alone cannot know (unknown criterion codes, bad criterion params);
    they are located in the file like every other problem.
    """
    try:
        root, data, problems = _parse(text)
    except yaml.MarkedYAMLError as error:
        _raise(source, [_yaml_problem(error)])
    except yaml.reader.ReaderError as error:
        _raise(source, [_reader_problem(text, error)])
    except yaml.YAMLError as error:  # PyYAML errors without a mark: still one located line for the author
        _raise(source, [_Problem(1, 1, f"invalid YAML: {error}")])
    top_fields = _field_list(LifecycleTemplate, required_only=True)
    if root is None:
        _raise(source, [_Problem(1, 1, f"the template is empty; expected a mapping with {top_fields}")])
    if not isinstance(data, dict):
        message = f"the top level must be a mapping with {top_fields}; found {_node_kind(root)}"
        _raise(source, [*problems, _at(root.start_mark, message)])
    try:
        template = LifecycleTemplate.model_validate(data)
    except ValidationError as error:
        errors = error.errors()
        field_errors = {tuple(e["loc"]) for e in errors}
        problems += _validation_problems(root, errors)
        problems += _reference_problem_list(root, data, field_errors)
        if not problems:  # never swallow an error the mapping above did not place
            problems = [_at(root.start_mark, _message(e)) for e in errors]
        _raise(source, problems)
    if check is not None:
        for loc, message in check(template):
            node, _, _ = _walk(root, loc)
            problems.append(_at(node.start_mark, f"{_field_path(loc)}: {message}"))
    if problems:
        _raise(source, problems)
    return template


def _raise(source: str, problems: list[_Problem]) -> NoReturn:
    ordered = sorted(set(problems))
    lines = [f"{source}:{p.line}:{p.column}: {p.message}" for p in ordered]
    count = f"{len(lines)} problem{'s' if len(lines) != 1 else ''}"
    raise TemplateError(f"lifecycle template {source} is invalid ({count}); first: {lines[0]}", lines)


def load_template_file(path: Path, *, check: TemplateCheck | None = None) -> LifecycleTemplate:
    """Read a template file as UTF-8 and load it; problems name the file as given."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read template file {path}: {error.strerror or error}") from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"template file {path} is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}); "
            "save it as UTF-8"
        ) from error
    return load_template_text(text.removeprefix("\ufeff"), source=str(path), check=check)


def template_content_hash(template: LifecycleTemplate) -> str:
    """sha256 of the canonical JSON of the validated template: formatting, comments and key order do not count."""
    return sha256_hex(template.model_dump(mode="json"))


def shipped_templates(*, check: TemplateCheck | None = None) -> list[tuple[str, LifecycleTemplate]]:
    """(YAML text, template) for every template shipped in models/lifecycles, sorted by file name.

    Read through importlib.resources so an installed wheel finds them as well as a checkout does.
    """
    folder = resources.files("phasegate.models").joinpath("lifecycles")
    shipped: list[tuple[str, LifecycleTemplate]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_file() and entry.name.endswith(".yaml"):
            text = entry.read_text(encoding="utf-8")
            shipped.append((text, load_template_text(text, source=f"models/lifecycles/{entry.name}", check=check)))
    return shipped


def template_json_schema() -> dict[str, Any]:
    """JSON Schema for editors (for example yaml-language-server) so authors see mistakes while typing."""
    schema = LifecycleTemplate.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "phasegate lifecycle template",
    }


__all__ = [
    "SCHEMA_ID",
    "load_template_file",
    "load_template_text",
    "shipped_templates",
    "template_content_hash",
    "template_json_schema",
]
