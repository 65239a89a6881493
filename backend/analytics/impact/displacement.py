"""Displacement and diffusion of benefit around treated places.

``wdq``: weighted displacement quotient (Bowers & Johnson 2003) with target A, buffer B and
control C. ``wdd``: weighted displacement difference test (Wheeler & Ratcliffe 2018). Both take
counts of whole areas before and after; formulas in ``Wdq`` and ``Wdd``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from backend.analytics.impact._common import (
    Z95,
    _as_amounts,
    _num,
)


@dataclass(frozen=True)
class Wdq:
    """Weighted displacement quotient and its parts (Bowers & Johnson 2003; Guerette 2009).

    A = target area, B = buffer (catchment) area, C = control area; counts before and after.

    * ``success_measure = A_after / C_after - A_before / C_before`` (< 0: the target improved
      relative to the control area; the WDQ's denominator);
    * ``buffer_measure = B_after / C_after - B_before / C_before`` (the numerator);
    * ``wdq = buffer_measure / success_measure``: > 0 diffusion of benefit into the buffer
      (> 1: larger than the direct effect), < 0 displacement (< -1: more crime displaced than
      prevented), about 0 neither. Only meaningful when ``success_measure < 0``: Bowers &
      Johnson attribute buffer changes to the intervention only when the target improved.
    * ``gross_effect = A_before - A_after``, ``net_effect = A_before / C_before - A_after /
      C_after`` and ``total_net_effect = [A_before C_after / C_before - A_after] + [B_before
      C_after / C_before - B_after]`` (crimes prevented, > 0 good), from Guerette (2009).

    nan where a denominator is zero.
    """

    wdq: float
    success_measure: float
    buffer_measure: float
    gross_effect: float
    net_effect: float
    total_net_effect: float
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "wdq": _num(self.wdq),
            "success_measure": _num(self.success_measure),
            "buffer_measure": _num(self.buffer_measure),
            "gross_effect": _num(self.gross_effect),
            "net_effect": _num(self.net_effect),
            "total_net_effect": _num(self.total_net_effect),
            "sentence": self.sentence,
        }


def _div(a: float, b: float) -> float:
    return a / b if b != 0 else math.nan


def wdq(
    *,
    a_before: float,
    a_after: float,
    b_before: float,
    b_after: float,
    c_before: float,
    c_after: float,
) -> Wdq:
    """Weighted displacement quotient of target A, buffer B, control C (counts >= 0).

    Formulas: ``Wdq``. Returns nan parts (and says why in ``sentence``) when the control area
    had no crime in a window or the target did not change relative to it.
    """
    vals = _as_amounts("wdq counts", [a_before, a_after, b_before, b_after, c_before, c_after])
    ab, aa, bb, ba, cb, ca = (float(v) for v in vals)
    success = _div(aa, ca) - _div(ab, cb)
    buffer = _div(ba, ca) - _div(bb, cb)
    quotient = _div(buffer, success) if math.isfinite(success) else math.nan
    ratio = _div(ca, cb)
    tne = (ab * ratio - aa) + (bb * ratio - ba)
    return Wdq(
        wdq=quotient,
        success_measure=success,
        buffer_measure=buffer,
        gross_effect=ab - aa,
        net_effect=_div(ab, cb) - _div(aa, ca),
        total_net_effect=tne,
        sentence=_wdq_sentence(quotient, success),
    )


def _wdq_sentence(q: float, success: float) -> str:
    if not math.isfinite(success):
        return "The control areas had no crime in a window, so the WDQ cannot be computed."
    if success >= 0:
        return (
            "Crime in the treated hot spots did not fall relative to the control hot spots, so "
            "changes in the surrounding buffer cannot be attributed to the patrols (WDQ not "
            "interpreted)."
        )
    if q > 1:
        kind = "a diffusion of benefit into the surrounding buffer larger than the direct effect"
    elif q > 0.05:
        kind = "a diffusion of benefit into the surrounding buffer, smaller than the direct effect"
    elif q >= -0.05:
        kind = "neither displacement nor diffusion of benefit into the surrounding buffer"
    elif q >= -1:
        kind = "some crime displaced into the surrounding buffer, less than was prevented"
    else:
        kind = "more crime displaced into the surrounding buffer than was prevented"
    return f"The weighted displacement quotient is {q:.2f}: {kind}."


@dataclass(frozen=True)
class Wdd:
    """Weighted displacement difference test (Wheeler & Ratcliffe 2018), counts >= 0.

    ``local = (T_after - T_before) - (C_after - C_before)``, ``displacement = (D_after -
    D_before) - (CD_after - CD_before)``, ``estimate = local + displacement`` (crimes; < 0 is a
    reduction). Counts are taken as Poisson, so ``variance`` is the sum of the eight counts,
    ``se = sqrt(variance)``, ``z = estimate / se``, ``p_value = 2 (1 - Phi(|z|))`` and ``ci95 =
    estimate -+ 1.96 se`` (``statistics.NormalDist``). z and p are nan when every count is 0.
    """

    estimate: float
    local: float
    displacement: float
    variance: float
    se: float
    z: float
    p_value: float
    ci95: tuple[float, float]
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": _num(self.estimate),
            "local": _num(self.local),
            "displacement": _num(self.displacement),
            "variance": _num(self.variance),
            "se": _num(self.se),
            "z": _num(self.z),
            "p_value": _num(self.p_value),
            "ci95": [_num(self.ci95[0]), _num(self.ci95[1])],
            "sentence": self.sentence,
        }


def wdd(
    *,
    t_before: float,
    t_after: float,
    c_before: float,
    c_after: float,
    d_before: float = 0.0,
    d_after: float = 0.0,
    cd_before: float = 0.0,
    cd_after: float = 0.0,
) -> Wdd:
    """WDD test of treated area T, control C, displacement area D (around T), and control
    displacement area CD (around C); counts >= 0. Formulas: ``Wdd``."""
    vals = _as_amounts(
        "wdd counts", [t_before, t_after, c_before, c_after, d_before, d_after, cd_before, cd_after]
    )
    tb, ta, cb, ca, db, da, cdb, cda = (float(v) for v in vals)
    local = (ta - tb) - (ca - cb)
    displacement = (da - db) - (cda - cdb)
    estimate = local + displacement
    variance = float(vals.sum())
    se = math.sqrt(variance)
    z = estimate / se if se > 0 else math.nan
    p = 2 * (1 - NormalDist().cdf(abs(z))) if math.isfinite(z) else math.nan
    ci = (estimate - Z95 * se, estimate + Z95 * se)
    if math.isfinite(z):
        direction = "fewer" if estimate < 0 else "more"
        sentence = (
            f"Counting the buffers, treated hot spots had {abs(estimate):,.0f} {direction} "
            f"crimes than the control trend predicts (95% CI {ci[0]:,.0f} to {ci[1]:,.0f}, "
            f"z = {z:.2f}, p = {p:.3f})."
        )
    else:
        sentence = "No crime was recorded in any area, so the WDD test cannot be computed."
    return Wdd(
        estimate=estimate,
        local=local,
        displacement=displacement,
        variance=variance,
        se=se,
        z=z,
        p_value=p,
        ci95=ci,
        sentence=sentence,
    )
