"""Lessons learned (经验教训) as the use cases read and write them: the record, the commands that file or edit
one, how it was used at a gate, and the lessons a killed project still owes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from phasegate.gates.vocabulary.enums import LessonCategory, LessonUseKind

Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=40)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]


def _tags(value: object) -> object:
    """Tags arrive as a list or as one comma-separated string (a CLI option, a form field)."""
    if isinstance(value, str):
        return [part for part in value.split(",") if part.strip()]
    return value


class LessonDraft(BaseModel):
    """What a person writes: the fields of ``lesson add`` (and of ``lesson edit``, where None keeps the value)."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    project_key: str
    category: LessonCategory = LessonCategory.OTHER
    tags: tuple[Tag, ...] = Field(default=(), max_length=20)
    what_happened: Annotated[Text, StringConstraints(min_length=1)]
    repeat: Text = ""
    avoid: Text = ""
    gate_id: str | None = None
    round_id: UUID | None = None

    _split = field_validator("tags", mode="before")(_tags)


class LessonEdit(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    category: LessonCategory | None = None
    tags: tuple[Tag, ...] | None = Field(default=None, max_length=20)
    what_happened: Annotated[Text, StringConstraints(min_length=1)] | None = None
    repeat: Text | None = None
    avoid: Text | None = None

    _split = field_validator("tags", mode="before")(_tags)


class LessonRecord(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    id: int
    project_key: str
    template_id: str
    gate_id: str | None
    round_id: UUID | None
    category: LessonCategory
    tags: tuple[str, ...]
    what_happened: str
    repeat: str
    avoid: str
    author_id: str
    created_at: datetime
    edited_at: datetime | None = None
    edited_by: str | None = None

    def search_text(self) -> str:
        """What full-text search reads: every written field and the tags, lower-cased (trigram search, both
        dialects, compares lower-cased text; Chinese has no case and is kept as written)."""
        return "\n".join((self.what_happened, self.repeat, self.avoid, " ".join(self.tags))).lower()


class LessonUseRecord(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    lesson_id: int
    kind: LessonUseKind
    review_id: UUID
    round_id: UUID | None
    project_key: str
    gate_id: str
    person_id: str
    score: int
    at: datetime


class LessonDueRecord(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    project_key: str
    round_id: UUID
    gate_id: str
    owner_id: str
    opened_at: datetime
    resolved_at: datetime | None = None
    lesson_id: int | None = None
