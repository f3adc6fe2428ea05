"""EVM maths: worked examples, guard rails, rounding, validation, and properties checked against an exact
reference written with ``fractions.Fraction`` (a second, independent implementation of DOMAIN.md's table).
"""

from __future__ import annotations

from datetime import date
from decimal import Context, Decimal, localcontext
from fractions import Fraction
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from phasegate.gates.evm import EAC_METHODS, EacMethod, EvmFigures, compute, rag_band
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import MAX_AMOUNT, EvmSnapshot

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

AS_OF = date(2026, 5, 29)


def snap(bac: str, pv: str | None, ev: str | None, ac: str | None, etc: str | None = None) -> EvmSnapshot:
    def d(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    return EvmSnapshot(as_of=AS_OF, bac=Decimal(bac), pv=d(pv), ev=d(ev), ac=d(ac), etc=d(etc))


# --- worked example ----------------------------------------------------------------------------------------

EXAMPLE = snap("100000", "50000", "40000", "50000", etc="70000")


def test_worked_example_every_figure() -> None:
    f = compute(EXAMPLE)
    assert f.as_json() == {
        "as_of": "2026-05-29", "bac": "100000", "pv": "50000", "ev": "40000", "ac": "50000",
        "cv": "-10000.00", "sv": "-10000.00", "cv_pct": "-0.2500", "sv_pct": "-0.2000",
        "cpi": "0.8000", "spi": "0.8000",
        "eac_cpi": "125000.00", "eac_atypical": "110000.00", "eac_cpi_spi": "143750.00", "eac_bottom_up": "120000.00",
        "etc": "75000.00", "vac": "-25000.00", "tcpi_bac": "1.2000", "tcpi_eac": "0.8000",
        "percent_complete": "0.4000", "percent_spent": "0.5000",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("method", "etc", "vac", "tcpi_eac"),
    [
        ("cpi", "75000.00", "-25000.00", "0.8000"),
        ("atypical", "60000.00", "-10000.00", "1.0000"),
        ("cpi_spi", "93750.00", "-43750.00", "0.6400"),
        ("bottom_up", "70000.00", "-20000.00", "0.8571"),
    ],
)
def test_eac_method_drives_etc_vac_and_tcpi_to_eac(method: EacMethod, etc: str, vac: str, tcpi_eac: str) -> None:
    f = compute(EXAMPLE, eac_method=method)
    assert (f.etc, f.vac, f.tcpi_eac) == (Decimal(etc), Decimal(vac), Decimal(tcpi_eac))
    # The side-by-side EACs do not depend on the chosen method.
    assert (f.eac_cpi, f.eac_atypical, f.eac_cpi_spi, f.eac_bottom_up) == (
        Decimal("125000.00"), Decimal("110000.00"), Decimal("143750.00"), Decimal("120000.00"),
    )  # fmt: skip


def test_unknown_eac_method_is_an_input_error() -> None:
    with pytest.raises(InputError, match="eac_method must be one of"):
        compute(EXAMPLE, eac_method=cast(Any, "gut_feeling"))


# --- guard rails: undefined is None, never a number ----------------------------------------------------------


def test_no_actual_cost_means_no_cpi_and_no_eac() -> None:
    f = compute(snap("100000", "50000", "40000", None, etc="70000"))
    assert f.cpi is f.cv is f.cv_pct is f.percent_spent is None
    assert f.eac_cpi is f.eac_atypical is f.eac_cpi_spi is f.eac_bottom_up is None
    assert f.etc is f.vac is f.tcpi_bac is f.tcpi_eac is None
    assert f.spi == Decimal("0.8000") and f.sv == Decimal("-10000.00")


def test_no_planned_value_means_no_spi() -> None:
    f = compute(snap("100000", None, "40000", "50000"))
    assert f.spi is f.sv is f.sv_pct is f.eac_cpi_spi is None
    assert f.cpi == Decimal("0.8000") and f.eac_cpi == Decimal("125000.00")
    assert compute(snap("100000", None, "40000", "50000"), eac_method="cpi_spi").vac is None


def test_zero_actual_cost_leaves_cpi_undefined_not_infinite_or_on_budget() -> None:
    f = compute(snap("100000", "10000", "5000", "0"))
    assert f.cpi is None and f.eac_cpi is None and f.eac_cpi_spi is None
    assert f.vac is None and f.etc is None
    assert f.eac_atypical == Decimal("95000.00")  # AC + (BAC - EV) is defined with AC = 0
    assert f.percent_spent == Decimal("0.0000") and f.cv == Decimal("5000.00")


def test_zero_earned_value_with_cost_gives_cpi_zero_and_no_cpi_based_eac() -> None:
    f = compute(snap("100000", "10000", "0", "5000"))
    assert f.cpi == Decimal("0.0000") and f.spi == Decimal("0.0000")
    assert f.eac_cpi is None and f.eac_cpi_spi is None and f.cv_pct is None
    assert f.eac_atypical == Decimal("105000.00")


def test_zero_planned_value_leaves_spi_undefined() -> None:
    f = compute(snap("100000", "0", "0", "0"))
    assert f.spi is f.sv_pct is f.cpi is None
    assert f.sv == Decimal("0.00")


@pytest.mark.parametrize("ac", ["100000", "100000.01", "250000"])
def test_tcpi_to_bac_is_none_once_the_budget_is_used_up(ac: str) -> None:
    assert compute(snap("100000", "90000", "80000", ac)).tcpi_bac is None


def test_tcpi_to_eac_is_none_when_no_estimate_to_complete_remains() -> None:
    f = compute(snap("100000", "100000", "100000", "90000"), eac_method="atypical")
    assert f.etc == Decimal("0.00") and f.tcpi_eac is None
    assert f.tcpi_bac == Decimal("0.0000")


def test_zero_budget_leaves_percentages_undefined() -> None:
    f = compute(snap("0", "0", "0", "0"))
    assert f.percent_complete is f.percent_spent is f.tcpi_bac is None
    assert f.eac_atypical == Decimal("0.00") and f.vac is None  # cpi method: no CPI


def test_bottom_up_needs_an_estimate() -> None:
    f = compute(snap("100000", "50000", "40000", "50000"), eac_method="bottom_up")
    assert f.eac_bottom_up is f.etc is f.vac is f.tcpi_eac is None
    assert f.eac_cpi == Decimal("125000.00")


# --- rounding ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ac", "eac"),
    [("0.005", "1.00"), ("0.015", "1.02"), ("0.025", "1.02"), ("0.0051", "1.01"), ("0.004999", "1.00")],
)
def test_money_rounds_half_even_to_the_cent(ac: str, eac: str) -> None:
    assert compute(snap("1", None, "0", ac), eac_method="atypical").eac_atypical == Decimal(eac)


@pytest.mark.parametrize(
    ("ev", "cpi"), [("0.00005", "0.0000"), ("0.00015", "0.0002"), ("0.000149", "0.0001"), ("0.5", "0.5000")]
)
def test_ratios_round_half_even_to_four_places(ev: str, cpi: str) -> None:
    assert compute(snap("1", None, ev, "1")).cpi == Decimal(cpi)


def test_eac_cpi_is_rounded_once_from_the_exact_value() -> None:
    # BAC x AC / EV = 3 x 2.345 / 3 = 2.345 exactly, a half-cent tie, so half-even gives 2.34. Computing
    # BAC / (EV / AC) instead rounds EV / AC at 100 digits first, lands a hair above the tie and gives 2.35.
    f = compute(snap("3", None, "3", "2.345"))
    assert f.eac_cpi == Decimal("2.34")
    assert compute(snap("11", None, "11", "7.035")).eac_cpi == Decimal("7.04")


def test_negative_zero_never_reaches_a_report() -> None:
    f = compute(snap("-0", "-0", "-0", "-0"), eac_method="atypical")
    assert all(not value.startswith("-") for value in f.as_json().values() if value is not None)


def test_as_json_uses_plain_decimal_strings() -> None:
    f = compute(snap("1E+5", None, "4E+4", None))
    out = f.as_json()
    assert out["bac"] == "100000" and out["ev"] == "40000" and out["percent_complete"] == "0.4000"
    assert out["ac"] is None and out["cpi"] is None and out["as_of"] == "2026-05-29"
    assert set(out) == set(EvmFigures.model_fields)


# --- validation --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bac", "-0.01", "greater than or equal to 0"),
        ("ac", "-1", "greater than or equal to 0"),
        ("ac", "NaN", "finite"),
        ("ac", "Infinity", "finite"),
        ("etc", "1.0000001", "no more than 6 decimal places"),
        ("ac", "1000000000000000000.01", "less than or equal to"),
    ],
)
def test_snapshot_rejects_bad_amounts(field: str, value: str, message: str) -> None:
    values: dict[str, Any] = {"as_of": AS_OF, "bac": "100", "pv": "50", "ev": "40", "ac": "45", field: value}
    with pytest.raises(ValidationError, match=message):
        EvmSnapshot.model_validate(values)


@pytest.mark.parametrize(("field", "name"), [("ev", "earned value"), ("pv", "planned value")])
def test_snapshot_rejects_value_above_budget_at_completion(field: str, name: str) -> None:
    values: dict[str, Any] = {"as_of": AS_OF, "bac": "100", "pv": "50", "ev": "40", "ac": "45", field: "100.01"}
    with pytest.raises(ValidationError, match=f"{field} \\({name}\\) 100.01 must not exceed bac"):
        EvmSnapshot.model_validate(values)
    values[field] = "100"
    assert getattr(EvmSnapshot.model_validate(values), field) == Decimal("100")


def test_snapshot_is_frozen() -> None:
    with pytest.raises(ValidationError):
        EXAMPLE.ac = Decimal(1)  # type: ignore[misc]


# --- RAG bands ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "band"),
    [
        (None, "unknown"), ("1.2000", "green"), ("0.9500", "green"), ("0.9499", "amber"),
        ("0.8500", "amber"), ("0.8499", "red"), ("0.0000", "red"),
    ],
)  # fmt: skip
def test_rag_band_default_thresholds(index: str | None, band: str) -> None:
    assert rag_band(None if index is None else Decimal(index)) == band


def test_rag_band_custom_thresholds_and_bad_ones() -> None:
    assert rag_band(Decimal("0.97"), green=Decimal("0.98"), amber=Decimal("0.90")) == "amber"
    assert rag_band(Decimal("0.90"), green=Decimal("0.90"), amber=Decimal("0.90")) == "green"
    with pytest.raises(InputError, match="amber <= green"):
        rag_band(Decimal("1"), green=Decimal("0.8"), amber=Decimal("0.9"))
    with pytest.raises(InputError, match="finite"):
        rag_band(Decimal("1"), green=Decimal("NaN"))


# --- properties --------------------------------------------------------------------------------------------

CENT = Decimal("0.01")
WIDE = Context(prec=200)


def amounts(max_value: Decimal = MAX_AMOUNT) -> st.SearchStrategy[Decimal]:
    """Zeros, whole units, cents and six-place amounts up to ``max_value``, small and huge."""
    return st.one_of(
        st.just(Decimal(0)),
        st.decimals(min_value=0, max_value=max_value, places=0),
        st.decimals(min_value=0, max_value=min(max_value, Decimal(10**7)), places=2),
        st.decimals(min_value=0, max_value=max_value, places=2),
        st.decimals(min_value=0, max_value=max_value, places=6),
    )


@st.composite
def snapshots(draw: st.DrawFn, *, cents: bool = False) -> EvmSnapshot:
    """Valid snapshots; any of PV, EV, AC, ETC may be missing. ``cents`` keeps every amount to 2 places."""

    def amount(max_value: Decimal = MAX_AMOUNT) -> Decimal:
        value = draw(amounts(max_value))
        return value.quantize(CENT, rounding="ROUND_DOWN") if cents else value

    bac = amount()
    maybe = st.booleans()
    return EvmSnapshot(
        as_of=AS_OF,
        bac=bac,
        pv=amount(bac) if draw(maybe) else None,
        ev=amount(bac) if draw(maybe) else None,
        ac=amount() if draw(maybe) else None,
        etc=amount() if draw(maybe) else None,
    )


methods = st.sampled_from(EAC_METHODS)


def q(value: Fraction | None, places: int) -> Decimal | None:
    """Exact half-even rounding of an exact rational (Fraction's round is half-even), as a Decimal."""
    if value is None:
        return None
    scaled = round(value, places) * 10**places
    assert scaled.denominator == 1
    return Decimal(f"{scaled.numerator}E-{places}")  # built from a string: exact whatever the context


def ref_figures(s: EvmSnapshot, method: EacMethod) -> dict[str, Decimal | None]:
    """DOMAIN.md's formulas over exact rationals: the reference the Decimal implementation must match."""

    def fr(value: Decimal | None) -> Fraction | None:
        return None if value is None else Fraction(value)

    def div(n: Fraction | None, d: Fraction | None) -> Fraction | None:
        return None if n is None or d is None or d == 0 else n / d

    bac, pv, ev, ac, etc_in = fr(s.bac), fr(s.pv), fr(s.ev), fr(s.ac), fr(s.etc)
    assert bac is not None
    cv = None if ev is None or ac is None else ev - ac
    sv = None if ev is None or pv is None else ev - pv
    cpi, spi = div(ev, ac), div(ev, pv)
    eac_cpi = div(bac, cpi) if cpi else None
    eac_atypical = None if ac is None or ev is None else ac + (bac - ev)
    eac_cpi_spi = None
    if ac is not None and ev is not None and cpi and spi:
        eac_cpi_spi = ac + (bac - ev) / (cpi * spi)
    eac_bottom_up = None if ac is None or etc_in is None else ac + etc_in
    eacs = {
        "cpi": q(eac_cpi, 2), "atypical": q(eac_atypical, 2), "cpi_spi": q(eac_cpi_spi, 2),
        "bottom_up": q(eac_bottom_up, 2),
    }  # fmt: skip
    eac = eacs[method]
    etc = None if eac is None or ac is None else q(Fraction(eac) - ac, 2)
    remaining_budget = None if ac is None else bac - ac

    def positive(value: Fraction | None) -> bool:
        return value is not None and value > 0

    return {
        "cv": q(cv, 2), "sv": q(sv, 2), "cv_pct": q(div(cv, ev), 4), "sv_pct": q(div(sv, pv), 4),
        "cpi": q(cpi, 4), "spi": q(spi, 4),
        "eac_cpi": eacs["cpi"], "eac_atypical": eacs["atypical"], "eac_cpi_spi": eacs["cpi_spi"],
        "eac_bottom_up": eacs["bottom_up"],
        "etc": etc,
        "vac": None if eac is None else q(bac - Fraction(eac), 2),
        "tcpi_bac": q(div(bac - ev, remaining_budget), 4) if ev is not None and positive(remaining_budget) else None,
        "tcpi_eac": q(div(bac - ev, Fraction(etc)), 4) if ev is not None and etc is not None and etc > 0 else None,
        "percent_complete": q(div(ev, bac), 4), "percent_spent": q(div(ac, bac), 4),
    }  # fmt: skip


@settings(max_examples=400)
@given(s=snapshots(), method=methods)
def test_compute_matches_the_exact_rational_reference(s: EvmSnapshot, method: EacMethod) -> None:
    f = compute(s, eac_method=method)
    assert {name: getattr(f, name) for name in ref_figures(s, method)} == ref_figures(s, method)


@settings(max_examples=400)
@given(s=snapshots(), method=methods)
def test_compute_never_raises_and_returns_only_decimals(s: EvmSnapshot, method: EacMethod) -> None:
    f = compute(s, eac_method=method)
    for name in EvmFigures.model_fields:
        value = getattr(f, name)
        assert value is None or isinstance(value, date if name == "as_of" else Decimal), name
    for name, text in f.as_json().items():
        assert text is None or (isinstance(text, str) and "E" not in text), name


@settings(max_examples=300)
@given(s=snapshots(cents=True), method=methods)
def test_money_identities_hold_exactly_for_amounts_in_cents(s: EvmSnapshot, method: EacMethod) -> None:
    f = compute(s, eac_method=method)
    with localcontext(WIDE):  # the test's own arithmetic must not round either
        if f.ev is not None and f.ac is not None:
            assert f.cv == f.ev - f.ac
        if f.ev is not None and f.pv is not None:
            assert f.sv == f.ev - f.pv
        eacs = {"cpi": f.eac_cpi, "atypical": f.eac_atypical, "cpi_spi": f.eac_cpi_spi, "bottom_up": f.eac_bottom_up}
        eac = eacs[method]
        if eac is None:
            assert f.etc is f.vac is f.tcpi_eac is None
        else:
            assert f.ac is not None and f.etc == eac - f.ac and f.vac == f.bac - eac
        if method == "bottom_up" and s.etc is not None and f.etc is not None:
            assert f.etc == s.etc


@settings(max_examples=300)
@given(s=snapshots())
def test_eac_cpi_times_cpi_is_bac_within_quantization(s: EvmSnapshot) -> None:
    f = compute(s)
    if s.ac and s.ev:
        assert f.eac_cpi is not None and f.cpi is not None
        # |EAC_q x CPI_q - BAC| <= half a cent x CPI + half a ten-thousandth x EAC (plus the product of both)
        with localcontext(WIDE):
            half_cent, half_ratio = Decimal("0.005"), Decimal("0.00005")
            bound = half_cent * (f.cpi + half_ratio) + half_ratio * (f.eac_cpi + half_cent)
            assert abs(f.eac_cpi * f.cpi - f.bac) <= bound


@settings(max_examples=300)
@given(s=snapshots())
def test_tcpi_to_bac_times_remaining_budget_is_remaining_work(s: EvmSnapshot) -> None:
    f = compute(s)
    if s.ac is not None and s.ev is not None and s.bac > s.ac:
        assert f.tcpi_bac is not None
        with localcontext(WIDE):
            remaining_budget = s.bac - s.ac
            assert abs(f.tcpi_bac * remaining_budget - (s.bac - s.ev)) <= Decimal("0.00005") * remaining_budget
    else:
        assert f.tcpi_bac is None


@given(s=snapshots(), method=methods)
def test_missing_actual_cost_never_yields_cpi_or_eac(s: EvmSnapshot, method: EacMethod) -> None:
    f = compute(s.model_copy(update={"ac": None}), eac_method=method)
    assert f.cpi is f.eac_cpi is f.eac_atypical is f.eac_cpi_spi is f.eac_bottom_up is None
    assert f.etc is f.vac is f.tcpi_bac is f.tcpi_eac is None


@given(s=snapshots(), method=methods)
def test_missing_planned_value_never_yields_spi(s: EvmSnapshot, method: EacMethod) -> None:
    f = compute(s.model_copy(update={"pv": None}), eac_method=method)
    assert f.spi is f.sv is f.sv_pct is f.eac_cpi_spi is None
