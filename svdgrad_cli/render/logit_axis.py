"""The x axis of a sweep whose parameter runs from 0 to 1 (``--vary cut``, x = s_{K+1} / s_K).

Points are placed at t = log10(x / (1 - x)) on a linear axis, so that 10^-k and 1 - 10^-k lie
symmetrically about 1/2 and neither end loses digits to rounding (1 - 10^-15 is barely a float64);
exact 0 and exact 1, which t cannot place, get ticks of their own past a break at either end. The
labelled ticks read as x: 10^-k, 1/2, 1 - 10^-k; unlabelled ones mark every power of ten between.
"""

from __future__ import annotations

import math

REACH = 1.5  # how far past the outermost inner point, in steps (at least one unit of t), an exact end lies
SIDE = 2  # at most this many labelled ticks on either side of 1/2 (1 - 10^-10 is wide)
STEPS = (1, 2, 5, 10, 20, 50)  # between labelled ticks, in units of t


def logit(x: float) -> float:
    """t = log10(x / (1 - x)) for 0 < x < 1."""
    return math.log10(x / (1.0 - x))


def _reach(inner: list[float]) -> float:
    step = (max(inner) - min(inner)) / (len(inner) - 1) if len(inner) > 1 else 1.0
    return REACH * max(step, 1.0)


def logit_positions(xs: list[float]) -> list[float]:
    """Where each x goes: t, or for exact 0 and exact 1 a place past the outermost inner points."""
    inner = [logit(x) for x in xs if 0 < x < 1] or [0.0]
    reach = _reach(inner)
    ends = (min(inner) - reach, max(inner) + reach)
    return [ends[0] if x <= 0 else ends[1] if x >= 1 else logit(x) for x in xs]


def logit_place(x: float, positions: list[float], xs: list[float]) -> float | None:
    """Where a value of x lies on the axis (an exact end at its own tick, if the sweep has it)."""
    if 0 < x < 1:
        return logit(x)
    ends = [p for p, at in zip(positions, xs, strict=True) if at == (1.0 if x >= 1 else 0.0)]
    return ends[0] if ends else None


def _tick_label(t: int) -> str:
    if t == 0:
        return "1/2"
    return f"$10^{{{t}}}$" if t < 0 else f"$1-10^{{{-t}}}$"


def _ends(ax, positions: list[float], xs: list[float], inner: list[float]) -> list[tuple[float, str]]:
    """(place, label) of exact 0 and exact 1 where the sweep has them, each past a dotted break."""
    ends = []
    legend: str | None = "axis breaks: exact 0 and 1 at the ends"
    for end, label in ((0.0, "0"), (1.0, "1")):
        place = logit_place(end, positions, xs)
        if place is None:
            continue
        ends.append((place, label))
        nearest = min(inner, key=lambda t: abs(t - place)) if inner else 0.0
        ax.axvline((place + nearest) / 2, color="0.3", linewidth=0.8, linestyle=(0, (2, 2)), label=legend)
        legend = None
    return ends


def logit_axis(ax, positions: list[float], xs: list[float]) -> None:
    """Ticks at 10^-k, 1/2 and 1 - 10^-k (k whole), and exact 0 and 1 past dotted breaks."""
    inner = [p for p, x in zip(positions, xs, strict=True) if 0 < x < 1]
    low, high = (math.floor(min(inner)), math.ceil(max(inner))) if inner else (-1, 1)
    every = next((step for step in STEPS if max(-low, high, 1) <= SIDE * step), STEPS[-1])
    ticks = [(float(t), _tick_label(t)) for t in range(low, high + 1) if t % every == 0]
    places, labels = zip(*ticks, *_ends(ax, positions, xs, inner), strict=True)
    ax.set_xticks(places, labels)
    ax.set_xticks([float(t) for t in range(low, high + 1) if t % every], minor=True)  # every unit of t
    ax.set_xlim(min(positions) - 0.6, max(positions) + 0.6)
