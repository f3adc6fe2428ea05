"""Canonical JSON of frozen evidence, written by pydantic's serializer in one pass: the bytes the evidence hash
is taken of.

The canonical form is ``gates.vocabulary.canonical.canonical_json(model.model_dump(mode="json"))``: pydantic turns the
values into JSON types, then ``json`` writes them with sorted keys. Stored hashes are compared with new ones
to detect stale evidence, so those bytes must never change. Written that way they cost a Python pass over
every value; here pydantic's own serializer writes the same bytes, from a copy of the model's core schema in
which each model hands over its fields in sorted order and each dict its keys sorted.

Its JSON writer escapes strings as ``json.dumps(..., ensure_ascii=False)`` does and writes integers, true,
false and null alike; values become the same strings (decimals, dates, enums) since the same leaf schemas
write them. Floats are written differently, so a model with a float anywhere, or with anything else this
module does not know (custom serializers, aliases, computed fields, extra fields), keeps the two-step path,
as does any value the serializer would have to guess at (``warnings="error"``): that path is always right.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic_core import SchemaSerializer
from pydantic_core import core_schema as cs

from phasegate.gates.vocabulary.canonical import canonical_json

_LEAVES = frozenset({"str", "int", "bool", "decimal", "date", "datetime", "none", "uuid"})
"""Schemas whose JSON is a string, an integer, true, false or null, written the same by both writers."""

_WRAPPERS = frozenset({"nullable", "default", "function-after", "function-before"})
"""Schemas that serialize as the schema they wrap (validators only run on the way in)."""

_FIELD_KEYS = frozenset({"type", "schema", "metadata", "frozen", "serialization_exclude_if"})
"""What a model field may say and still serialize under its own name (``exclude_if``: left out when it holds)."""


def _sorted_items(value: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(value.items()))


def _fields_in_order(cls: type[Any], names: tuple[str, ...], excluded: dict[str, Any] | None = None) -> Any:
    """The model's fields as a dict in the order of ``names``.

    Called once per model instance in the evidence, so it is the Python part of the hash. It copies a dict
    that already has the keys in order and updates it from the instance's ``__dict__``: an update keeps each
    existing key where it is, and copying plus updating costs about half of building the dict key by key.
    Equal lengths before and after prove ``__dict__`` holds exactly these names (a field missing from it, as
    ``model_construct`` allows, or an extra key, would otherwise be written wrongly): else the two-step path.
    A field with ``exclude_if`` is left out when its predicate holds, as ``model_dump`` leaves it out.
    """
    template = dict.fromkeys(names)
    count = len(names)

    def fields(model: BaseModel) -> dict[str, Any]:
        if type(model) is not cls:  # a subclass may carry more: the two-step path writes it
            raise ValueError(type(model))
        values = model.__dict__
        ordered = template.copy()
        ordered.update(values)
        if len(values) != count or len(ordered) != count:
            raise ValueError(type(model))
        for name, holds in (excluded or {}).items():
            if holds(ordered[name]):
                del ordered[name]
        return ordered

    return fields


def _sorted_schema(schema: Any) -> Any:
    """A copy of ``schema`` that serializes with every object's keys sorted; ValueError where it cannot."""
    if not isinstance(schema, dict) or "serialization" in schema:
        raise ValueError(schema)
    kind = schema["type"]
    if kind in _LEAVES or kind == "definition-ref":
        return schema
    if kind == "enum" and schema.get("sub_type") in ("str", "int"):
        return schema
    if kind == "literal" and all(isinstance(v, str | int | None) for v in schema["expected"]):
        return schema
    if kind in _WRAPPERS:
        return {**schema, "schema": _sorted_schema(schema["schema"])}
    if kind in ("tuple", "list"):
        items = schema.get("items_schema", {"type": "any"})
        sorted_items = [_sorted_schema(s) for s in items] if isinstance(items, list) else _sorted_schema(items)
        return {**schema, "items_schema": sorted_items}
    if kind == "dict" and schema.get("keys_schema", {"type": "any"})["type"] == "str":
        inner = {**schema, "values_schema": _sorted_schema(schema.get("values_schema", {"type": "any"}))}
        return {**inner, "serialization": cs.plain_serializer_function_ser_schema(_sorted_items, return_schema=inner)}
    if kind == "definitions":
        return {
            **schema,
            "schema": _sorted_schema(schema["schema"]),
            "definitions": [_sorted_schema(d) for d in schema["definitions"]],
        }
    if kind == "model":
        return _sorted_model(schema)
    raise ValueError(kind)


def _sorted_model(schema: dict[str, Any]) -> dict[str, Any]:
    config = schema.get("config", {})
    inner = schema["schema"]
    if (
        schema.get("root_model")
        or config.get("extra_fields_behavior") == "allow"
        or any(key.startswith("ser_") or key == "serialize_by_alias" for key in config)
        or inner["type"] != "model-fields"
        or inner.get("computed_fields")
        or "extras_schema" in inner
    ):
        raise ValueError(schema.get("ref"))
    fields = inner["fields"]
    if any(set(field) - _FIELD_KEYS for field in fields.values()):
        raise ValueError(schema.get("ref"))
    names = tuple(sorted(fields))
    excluded = {name: f["serialization_exclude_if"] for name, f in fields.items() if "serialization_exclude_if" in f}
    as_dict = cs.typed_dict_schema(
        {
            name: cs.typed_dict_field(_sorted_schema(fields[name]["schema"]), required=name not in excluded)
            for name in names
        },
        config=config,
    )
    return {
        **schema,
        "serialization": cs.plain_serializer_function_ser_schema(
            _fields_in_order(schema["cls"], names, excluded), return_schema=as_dict
        ),
    }


@cache
def _writer(model: type[BaseModel]) -> SchemaSerializer | None:
    try:
        # The vocabulary's models defer building their schema to first use (``defer_build``); before that, pydantic
        # may answer ``__pydantic_core_schema__`` with a placeholder (2.14.4 does): built here, as a validation would.
        model.model_rebuild()
        return SchemaSerializer(_sorted_schema(model.__pydantic_core_schema__))
    except Exception:  # not a schema this module knows how to write (ValueError), or one pydantic refuses
        return None


def canonical_model_json(model: BaseModel) -> bytes:
    """Exactly ``canonical_json(model.model_dump(mode="json"))``, in one pass where the schema allows."""
    writer = _writer(type(model))
    if writer is not None:
        try:
            return writer.to_json(model, warnings="error")
        except Exception:  # a value the schema does not expect: the two-step path writes it, or raises what it did
            pass
    return canonical_json(model.model_dump(mode="json"))
