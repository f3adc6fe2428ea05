"""Earned-value management (EVM): the figures a PMO reads at a gate, computed exactly from one status snapshot.

Why the rules below matter:

- **Nothing undefined becomes a number.** A ratio whose divisor is zero or whose input is missing is ``None``,
  never 0, 1 or "on budget". No AC means no CPI and no EAC; no PV means no SPI. A criterion that reads
  ``None`` reports missing evidence instead of passing (see ``gates.budget``).
- **Money is exact.** All arithmetic is ``Decimal`` in a local context of ``PRECISION`` significant digits
  with ``ROUND_HALF_EVEN``. Input bounds (at most ``MAX_AMOUNT``, at most 6 decimal places) keep every
  product of inputs exact inside that precision, and each ratio is a single division of exact operands, so
  the only rounding a reader sees is the final quantization.
- **Reported figures reproduce each other.** Money results are quantized to 0.01; ratios to 4 decimal
  places. Figures defined as differences of other money figures (ETC = EAC - AC, VAC = BAC - EAC) and
  TCPI to EAC, (BAC - EV) / ETC, are computed from the *reported* EAC and ETC, so a reader checking the
  table with a calculator gets exactly the printed numbers.
- **Percentages are fractions.** ``cv_pct``, ``sv_pct``, ``percent_complete`` and ``percent_spent`` are
  fractions at 4 decimal places (``0.2500`` means 25%): the JSON consumers choose how to show them.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Literal

from pydantic import BaseModel, ConfigDict

from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import EvmSnapshot, positive_zero

PRECISION = 100
"""Significant digits for intermediate results: far above the ~75 digits the largest exact product needs."""

EXACT = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)
"""The context all EVM arithmetic runs in: ``compute`` runs in a copy, ``gates.budget`` calls its methods (which
only set its flags, and nothing reads them)."""

MONEY = Decimal("0.01")
RATIO = Decimal("0.0001")

EacMethod = Literal["cpi", "atypical", "cpi_spi", "bottom_up"]
EAC_METHODS: tuple[EacMethod, ...] = ("cpi", "atypical", "cpi_spi", "bottom_up")
Band = Literal["green", "amber", "red", "unknown"]


class EvmFigures(BaseModel):
    """Every EVM figure for one snapshot; ``None`` wherever the figure is undefined.

    ``eac``-dependent figures (``etc``, ``vac``, ``tcpi_eac``) follow the EAC method chosen in ``compute``;
    the four ``eac_*`` figures are always all reported so a gate packet can show them side by side.
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    as_of: date
    bac: Decimal
    pv: Decimal | None
    ev: Decimal | None
    ac: Decimal | None
    cv: Decimal | None
    sv: Decimal | None
    cv_pct: Decimal | None
    sv_pct: Decimal | None
    cpi: Decimal | None
    spi: Decimal | None
    eac_cpi: Decimal | None
    eac_atypical: Decimal | None
    eac_cpi_spi: Decimal | None
    eac_bottom_up: Decimal | None
    etc: Decimal | None
    vac: Decimal | None
    tcpi_bac: Decimal | None
    tcpi_eac: Decimal | None
    percent_complete: Decimal | None
    percent_spent: Decimal | None

    def as_json(self) -> dict[str, str | None]:
        """Plain decimal strings (never exponent notation, never floats) so JSON consumers lose nothing."""
        out: dict[str, str | None] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                out[name] = None
            elif isinstance(value, date):
                out[name] = value.isoformat()
            else:
                out[name] = format(value, "f")
        return out


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else positive_zero(value.quantize(MONEY, rounding=ROUND_HALF_EVEN))


def _ratio(value: Decimal | None) -> Decimal | None:
    return None if value is None else positive_zero(value.quantize(RATIO, rounding=ROUND_HALF_EVEN))


def _div(numerator: Decimal | None, denominator: Decimal | None) -> Decimal | None:
    """Division that is undefined (``None``) rather than infinite or an error when the divisor is zero."""
    if numerator is None or denominator is None or denominator.is_zero():
        return None
    return numerator / denominator


def _sub(left: Decimal | None, right: Decimal | None) -> Decimal | None:
    return None if left is None or right is None else left - right


def compute(s: EvmSnapshot, *, eac_method: EacMethod = "cpi") -> EvmFigures:
    """EVM figures for ``s``, with ETC, VAC and TCPI to EAC following ``eac_method``.

    Methods (DOMAIN.md): ``cpi`` BAC / CPI (the cost variance continues); ``atypical`` AC + (BAC - EV) (the
    variance was one-off); ``cpi_spi`` AC + (BAC - EV) / (CPI x SPI) (cost and schedule both drive);
    ``bottom_up`` AC + the team's ETC. If the chosen EAC is undefined, so are ETC, VAC and TCPI to EAC.

    Each ratio is written as one division of exact products of the inputs (BAC / (EV / AC) as
    BAC x AC / EV), so no intermediate rounding can tip a half-cent result the wrong way.
    TCPI is ``None`` when its denominator is zero or negative (the budget or estimate is already used up):
    a negative "required efficiency" has no meaning, and ``gates.budget`` reports that case as a failure.
    """
    if eac_method not in EAC_METHODS:
        raise InputError(f"eac_method must be one of {', '.join(EAC_METHODS)}; got {eac_method!r}")
    with localcontext(EXACT):
        bac, pv, ev, ac = s.bac, s.pv, s.ev, s.ac
        cpi = _div(ev, ac)
        spi = _div(ev, pv)
        # BAC / CPI = BAC x AC / EV; undefined when AC is missing or zero (no CPI) or EV is zero (CPI = 0).
        eac_cpi = _div(bac * ac, ev) if ac is not None and cpi is not None else None
        eac_atypical = None if ac is None or ev is None else ac + (bac - ev)
        # (BAC - EV) / (CPI x SPI) = (BAC - EV) x AC x PV / EV^2; needs both indices defined and non-zero.
        eac_cpi_spi = None
        if ac is not None and cpi is not None and spi is not None and pv is not None and ev is not None:
            quotient = _div((bac - ev) * ac * pv, ev * ev)
            eac_cpi_spi = None if quotient is None else ac + quotient
        eac_bottom_up = None if ac is None or s.etc is None else ac + s.etc
        reported_eac = {
            "cpi": _money(eac_cpi),
            "atypical": _money(eac_atypical),
            "cpi_spi": _money(eac_cpi_spi),
            "bottom_up": _money(eac_bottom_up),
        }
        eac = reported_eac[eac_method]
        etc = _money(_sub(eac, ac))
        remaining_work = _sub(bac, ev)
        remaining_budget = _sub(bac, ac)
        return EvmFigures(
            as_of=s.as_of,
            bac=bac,
            pv=pv,
            ev=ev,
            ac=ac,
            cv=_money(_sub(ev, ac)),
            sv=_money(_sub(ev, pv)),
            cv_pct=_ratio(_div(_sub(ev, ac), ev)),
            sv_pct=_ratio(_div(_sub(ev, pv), pv)),
            cpi=_ratio(cpi),
            spi=_ratio(spi),
            eac_cpi=reported_eac["cpi"],
            eac_atypical=reported_eac["atypical"],
            eac_cpi_spi=reported_eac["cpi_spi"],
            eac_bottom_up=reported_eac["bottom_up"],
            etc=etc,
            vac=_money(_sub(bac, eac)),
            tcpi_bac=_ratio(_div(remaining_work, remaining_budget))
            if remaining_budget is not None and remaining_budget > 0
            else None,
            tcpi_eac=_ratio(_div(remaining_work, etc)) if etc is not None and etc > 0 else None,
            percent_complete=_ratio(_div(ev, bac)),
            percent_spent=_ratio(_div(ac, bac)),
        )


def rag_band(index: Decimal | None, *, green: Decimal = Decimal("0.95"), amber: Decimal = Decimal("0.85")) -> Band:
    """Colour band of a performance index (CPI, SPI): green at or above ``green``, amber at or above
    ``amber``, red below; ``unknown`` when the index is undefined, so a missing figure is never shown green.
    """
    if not (green.is_finite() and amber.is_finite()) or amber > green:
        raise InputError(f"RAG thresholds need finite amber <= green; got amber={amber}, green={green}")
    if index is None:
        return "unknown"
    if index >= green:
        return "green"
    if index >= amber:
        return "amber"
    return "red"
