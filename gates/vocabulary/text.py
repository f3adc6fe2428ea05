"""One way to hold the words people read, in English and Simplified Chinese.

Every screen, message and report names its words by key in a ``Catalog``; each entry is one ``Text``, a pair
that cannot exist with a language missing. There is one lookup, ``Catalog.text(key, locale)``, and any locale
other than zh-CN reads English, so a stored preference nobody supports still gets a readable message. The
catalogues stay next to what they label (the pages' words in ``web.i18n``, the report's in
``notifications.portfolio.labels``), but a word that several of them show is one ``Text`` in
``gates.vocabulary.terms``: a translation fixed there is fixed everywhere.

This lives in the vocabulary because every layer above may import it. It holds only UI words: findings the
domain computes (a criterion's ``message`` / ``message_zh``) are data and travel with their result.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from phasegate.gates.vocabulary.enums import Locale

LOCALES: tuple[str, ...] = tuple(locale.value for locale in Locale)


@dataclass(frozen=True, slots=True)
class Text:
    """One thing said in both languages; an empty side is refused when the module is imported, not when read."""

    en: str
    zh: str

    def __post_init__(self) -> None:
        if not self.en or not self.zh:
            raise ValueError(f"text needs both English and Chinese, got en={self.en!r} zh={self.zh!r}")

    def in_locale(self, locale: str) -> str:
        """The words for ``locale``; anything but zh-CN reads English."""
        return self.zh if locale == Locale.ZH_CN.value else self.en

    def lower(self) -> Text:
        """The same term inside running text (the report writes ``go``, a heading ``Go``); Chinese has no case."""
        return Text(self.en.lower(), self.zh)

    def upper(self) -> Text:
        """The same term as a code in capitals (the vote form's ``CONDITIONAL GO``); Chinese has no case."""
        return Text(self.en.upper(), self.zh)


class Catalog:
    """The words of one surface by key. Read with ``text`` (a missing key is a KeyError naming the catalogue),
    ``get`` (None when missing, for callers with their own fallback) or ``words`` (one language as a mapping,
    for templates that write ``t.key``)."""

    __slots__ = ("_entries", "_views", "name")

    def __init__(self, name: str, entries: Mapping[str, Text]) -> None:
        self.name = name
        self._entries: Mapping[str, Text] = MappingProxyType(dict(entries))
        self._views: Mapping[str, Mapping[str, str]] = {
            locale: MappingProxyType({key: text.in_locale(locale) for key, text in self._entries.items()})
            for locale in LOCALES
        }

    def text(self, key: str, locale: str) -> str:
        found = self._entries.get(key)
        if found is None:
            raise KeyError(f"{self.name}: no text {key!r}")
        return found.in_locale(locale)

    def get(self, key: str, locale: str) -> str | None:
        found = self._entries.get(key)
        return None if found is None else found.in_locale(locale)

    def words(self, locale: str) -> Mapping[str, str]:
        """Every entry in ``locale`` (English for anything but zh-CN)."""
        return self._views[locale if locale in self._views else Locale.EN.value]

    @property
    def entries(self) -> Mapping[str, Text]:
        return self._entries

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Catalog({self.name!r}, {len(self)} entries)"
