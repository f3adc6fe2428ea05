"""The one way UI text is held (gates.vocabulary.text): every catalogue complete in both languages, no key said
twice, shared words defined once, and the lookup's fallbacks."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from phasegate.gates.vocabulary import terms
from phasegate.gates.vocabulary.text import Catalog, Text
from phasegate.notifications.ics import WORDS as INVITATION_WORDS
from phasegate.notifications.packet import WORDS as PACKET_WORDS
from phasegate.notifications.portfolio.labels import LABELS as REPORT_LABELS
from phasegate.notifications.render import LABELS as ENUM_LABELS
from phasegate.web.i18n import STRINGS as PAGE_WORDS

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("flows", "gates", "models", "notifications", "migrations", "usecases", "web")
CATALOGS: dict[str, Catalog] = {
    "web/i18n.py": PAGE_WORDS,
    "notifications/render.py": ENUM_LABELS,
    "notifications/packet.py": PACKET_WORDS,
    "notifications/ics.py": INVITATION_WORDS,
    "notifications/portfolio/labels.py": REPORT_LABELS,
}
TERMS: dict[str, Text] = {name: value for name, value in vars(terms).items() if isinstance(value, Text)}


def _catalog_calls() -> dict[str, list[ast.Call]]:
    """Every ``Catalog(...)`` written in the source, by file (outside the module that defines the type)."""
    found: dict[str, list[ast.Call]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            calls = [
                node
                for node in ast.walk(tree)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Catalog"
            ]
            if calls:
                found[str(path.relative_to(ROOT))] = calls
    return found


def test_every_catalogue_in_the_source_is_checked_here() -> None:
    # A new catalogue must join CATALOGS, or the checks below would silently skip it.
    assert set(_catalog_calls()) == set(CATALOGS)


def test_no_key_is_written_twice_in_a_catalogue() -> None:
    # A dict literal keeps the last of two equal keys without a word; the source is the only place to see it.
    for where, calls in _catalog_calls().items():
        for call in calls:
            (entries,) = [arg for arg in call.args if isinstance(arg, ast.Dict)]
            keys = [key.value for key in entries.keys if isinstance(key, ast.Constant)]
            assert len(keys) == len(entries.keys), f"{where}: every key is a literal"
            repeated = sorted({key for key in keys if keys.count(key) > 1})
            assert not repeated, f"{where}: keys written twice: {repeated}"


@pytest.mark.parametrize("where", sorted(CATALOGS))
def test_every_key_has_both_languages(where: str) -> None:
    catalog = CATALOGS[where]
    assert len(catalog) > 0
    english, chinese = catalog.words("en"), catalog.words("zh-CN")
    assert set(english) == set(chinese) == set(catalog)
    for key, text in catalog.entries.items():
        assert isinstance(text, Text), f"{where}: {key}"
        assert english[key].strip() and chinese[key].strip(), f"{where}: {key} is blank in a language"
        # Callers fill what the English asks for: a Chinese placeholder the English lacks would be a KeyError in
        # zh-CN only. (The Chinese may leave a detail out: the invitation names the project without its key.)
        english_fields, chinese_fields = (
            {n for _, n, _, _ in string.Formatter().parse(side) if n} for side in (text.en, text.zh)
        )
        assert chinese_fields <= english_fields, f"{where}: {key}: {chinese_fields - english_fields} not in English"


def test_a_text_without_a_language_is_refused() -> None:
    with pytest.raises(ValueError, match="both English and Chinese"):
        Text("Go", "")
    with pytest.raises(ValueError, match="both English and Chinese"):
        Text("", "通过")


def test_each_shared_term_is_defined_once_and_shared() -> None:
    said = [(text.en, text.zh) for text in TERMS.values()]
    assert len(said) == len(set(said)), "two terms say the same thing"
    for name, term in TERMS.items():
        forms = {term, term.lower(), term.upper()}
        users = [where for where, catalog in CATALOGS.items() if forms & set(catalog.entries.values())]
        assert len(users) >= 2, f"terms.{name} is used only by {users}: it belongs in that catalogue"


def test_surfaces_share_the_term_and_keep_their_case() -> None:
    # Hand-checked against the pages, the messages and the report before the catalogues were merged.
    assert PAGE_WORDS.entries["dim_cost"] is ENUM_LABELS.entries["cost"] is terms.COST
    assert ENUM_LABELS.text("go", "en") == "Go"
    assert REPORT_LABELS.text("go", "en") == "go"
    assert REPORT_LABELS.text("go", "zh-CN") == ENUM_LABELS.text("go", "zh-CN") == "通过"
    assert PAGE_WORDS.text("conditional_go", "en") == "CONDITIONAL GO"
    assert PAGE_WORDS.text("conditional_go", "zh-CN") == "有条件通过"
    assert PAGE_WORDS.text("band_green", "zh-CN") == REPORT_LABELS.text("green", "zh-CN") == "绿"
    # The vote column is an approver's opinion (意见), the board's decision is 决策: two terms, not one.
    assert PACKET_WORDS.text("decision", "zh-CN") == "意见"
    assert REPORT_LABELS.text("decision", "zh-CN") == "决策"


def test_lookup_falls_back_to_english_and_names_a_missing_key() -> None:
    assert PAGE_WORDS.text("approval", "zh-CN") == "审批"
    assert PAGE_WORDS.text("approval", "fr") == PAGE_WORDS.text("approval", "en") == "Approval"
    assert PAGE_WORDS.words("de")["approval"] == "Approval"
    assert PAGE_WORDS.get("no-such-key", "en") is None
    with pytest.raises(KeyError, match="web pages: no text 'no-such-key'"):
        PAGE_WORDS.text("no-such-key", "zh-CN")
