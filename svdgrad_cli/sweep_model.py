"""The sweep's model: what a sweep moves (a SweepParameter), its family of matrices, its checked points.

A SweepParameter owns everything that depends on what is swept: the check of K (``--at``) and its
default, the requested points, each point's spectrum and matrix, the parameter measured on a
spectrum, and the names and axis values the reports show. The rest of svdgrad asks it, never its
name. The mathematics of the families is numerics/families.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from svdgrad_cli.errors import UsageError
from svdgrad_cli.model import MatrixReport, RunReport
from svdgrad_cli.numerics import families as fam


@dataclass(frozen=True)
class Member:
    """One point of a family before it is checked: the requested parameter and spectrum."""

    index: int
    requested: float
    values: np.ndarray  # the spectrum as built (float64), the requested one to MANTISSA_BITS bits
    exact: bool  # whether the stored matrix is exactly U diag(values) V^T
    exponent: int = 0  # --vary scale: the matrix is the base one times 2^exponent


class SweepParameter:
    """What a sweep moves, x; subclasses are the choices of ``--vary`` (SWEEP_PARAMETERS)."""

    name: ClassVar[str]
    axis_label: ClassVar[str]  # the heading of the terminal picture's axis
    doubling: ClassVar[bool] = False  # x = 2^e, increasing (an axis in powers of two), never 0
    shows_original: ClassVar[bool] = True  # where the user's own matrix lies on the axis is worth a mark
    logit: ClassVar[bool] = False  # x from 0 to 1, drawn on a logit axis (exact 0 and 1 past breaks)

    def formula(self, at: int | None) -> str:
        """x in words of the spectrum: '(s_2 - s_3) / s_1'."""
        raise NotImplementedError

    def check_at(self, at: int | None, k: int) -> None:
        """A UsageError for a K (``--at``) this family of ``k`` values cannot move."""
        raise NotImplementedError

    def default_at(self, values: np.ndarray, level: float, order: int | None = None) -> int | None:
        """K where --at is not given (``order``: the loss's K, if it has one)."""
        raise NotImplementedError

    def members(self, at, base: np.ndarray, points: int, dtype: str, factors: fam.Factors) -> list[Member]:
        raise NotImplementedError

    def of(self, values: np.ndarray, at: int | None, base_top: float) -> float:
        """x measured on a spectrum (``base_top``: s_1 of the family's starting matrix)."""
        raise NotImplementedError

    def stored(self, family: Family, member: Member) -> np.ndarray:
        """A member's matrix, in the dtype the backends compute in."""
        return fam.assemble(family.factors, member.values, family.dtype)

    def realised(self, family: Family, member: Member, stored: np.ndarray) -> tuple[np.ndarray, str]:
        """The stored matrix's spectrum and how it is known (families.realised_values)."""
        return fam.realised_values(stored, member.values, member.exact)

    def point_text(self, member: Member, at: int | None) -> str:
        """A point's name after the family's: 'gap 1.0e-03', 's_3/s_1 0', '2^-50 A'."""
        raise NotImplementedError

    def file_tag(self, member: Member) -> str:
        """x in the name of a saved matrix (--save-matrices): '1.00e-03', '2^-50'."""
        raise NotImplementedError

    def axis_value(self, x: float) -> str:
        """x as a heading of the terminal picture's axis."""
        raise NotImplementedError

    def axis_position(self, x: float) -> float:
        """Where a heading's number puts x (the picture keeps a heading over its nearest column)."""
        raise NotImplementedError

    def x_text(self, x: float) -> str:
        """x in prose: 1e-3, 1.4e-12, 2^-100, 0."""
        raise NotImplementedError

    def plot_label(self, family: Family) -> str:
        """The x axis of the drawn sweep."""
        raise NotImplementedError


class _Spectral(SweepParameter):
    """Values of the spectrum moved, x log-spaced from at most 0.1 down to exact 0."""

    axis_label = "-log10 x"
    lowest_at: ClassVar[int]  # the smallest K
    held: ClassVar[int]  # K goes up to k - held
    moving: ClassVar[str]  # what K names, for the message of a K out of range
    quantity: ClassVar[str]  # what x is, on the drawn axis

    def check_at(self, at: int | None, k: int) -> None:
        low, high = self.lowest_at, k - self.held
        if high < low:
            raise UsageError(f"--vary {self.name} needs at least 2 singular values; this family has {k}")
        if at is not None and not low <= at <= high:
            raise UsageError(f"--at {at}: K must be {low} to {high} here ({self.moving}, of {k} values)")

    def room(self, at: int, values: np.ndarray) -> float:
        """The room, relative to s_1, that the neighbours of the moved values leave."""
        raise NotImplementedError

    def move(self, values: np.ndarray, at: int, x: float, level: float) -> np.ndarray:
        raise NotImplementedError

    def nominal(self, at: int, base: np.ndarray, points: int, dtype: str, level: float) -> list[float]:
        """The requested x: from at most 0.1 (less if the neighbours leave no room) to 10 eps, then 0."""
        return fam.log_points(points, dtype, fam.start_below(self.room(at, base)))

    def members(self, at, base: np.ndarray, points: int, dtype: str, factors: fam.Factors) -> list[Member]:
        level = fam.zero_level((len(factors.u), len(factors.v)), dtype)
        members = []
        for i, x in enumerate(self.nominal(at, base, points, dtype, level)):
            values = self.move(base, at, x, level)
            members.append(Member(i, x, values, fam.is_exact(factors, values, dtype)))
        return members

    def short(self, at: int | None) -> str:
        raise NotImplementedError

    def point_text(self, member: Member, at: int | None) -> str:
        x = member.requested
        return f"{self.short(at)} {x:.1e}" if x else f"{self.short(at)} 0"

    def file_tag(self, member: Member) -> str:
        return f"{member.requested:.2e}"

    def axis_value(self, x: float) -> str:
        if x <= 0:
            return "∞"
        v = -math.log10(x)
        return f"{v:.0f}" if v >= 9.95 or abs(v - round(v)) < 0.05 else f"{v:.1f}"

    def axis_position(self, x: float) -> float:
        return -math.log10(x)

    def x_text(self, x: float) -> str:
        if not x:
            return "0"
        mantissa, exponent = f"{x:.1e}".split("e")
        return f"{mantissa.removesuffix('.0')}e{int(exponent)}"

    def plot_label(self, family: Family) -> str:
        return f"{self.quantity} x = {family.parameter} (dimensionless)"


class Gap(_Spectral):
    """s_K and s_{K+1} pulled together: x = (s_K - s_{K+1}) / s_1."""

    name = "gap"
    lowest_at, held = 1, 1
    moving, quantity = "the pair s_K, s_K+1", "relative gap"

    def formula(self, at: int | None) -> str:
        return f"(s_{at} - s_{(at or 0) + 1}) / s_1"

    def default_at(self, values: np.ndarray, level: float, order: int | None = None) -> int:
        return fam.closest_pair(values, level)

    def room(self, at: int, values: np.ndarray) -> float:
        below = float(values[at + 1]) if at + 1 < len(values) else 0.0
        return (float(values[at - 1]) - below) / float(values[0])

    def move(self, values: np.ndarray, at: int, x: float, level: float) -> np.ndarray:
        return fam.with_gap(values, at, x)

    def of(self, values: np.ndarray, at: int | None, base_top: float) -> float:
        top = float(values[0]) if len(values) else 0.0
        return float(values[at - 1] - values[at]) / top if top and at else math.nan

    def short(self, at: int | None) -> str:
        return "gap"


class Zero(_Spectral):
    """s_K and the values below it taken toward 0: x = s_K / s_1."""

    name = "zero"
    lowest_at, held = 2, 0
    moving, quantity = "the first value to vanish, s_K", "relative size"

    def formula(self, at: int | None) -> str:
        return f"s_{at} / s_1"

    def default_at(self, values: np.ndarray, level: float, order: int | None = None) -> int:
        return fam.first_zero(values, level)

    def room(self, at: int, values: np.ndarray) -> float:
        return float(values[at - 2]) / float(values[0])

    def move(self, values: np.ndarray, at: int, x: float, level: float) -> np.ndarray:
        return fam.vanishing(values, at, x, fam.zero_profile(values, at, level))

    def of(self, values: np.ndarray, at: int | None, base_top: float) -> float:
        top = float(values[0]) if len(values) else 0.0
        return float(values[at - 1]) / top if top and at else math.nan

    def short(self, at: int | None) -> str:
        return f"s_{at}/s_1"


class Scale(SweepParameter):
    """The whole matrix scaled: A 2^e, x = 2^e, e from -100 to 100 (exact but for under/overflow)."""

    name = "scale"
    axis_label = "log10 x"
    doubling = True
    shows_original = False  # the user's matrix is x = 1, in every scale sweep

    def formula(self, at: int | None) -> str:
        return "scale 2^e"

    def check_at(self, at: int | None, k: int) -> None:
        if at is not None:
            raise UsageError("--at has no meaning for --vary scale (the whole matrix is scaled)")

    def default_at(self, values: np.ndarray, level: float, order: int | None = None) -> None:
        return None

    def members(self, at, base: np.ndarray, points: int, dtype: str, factors: fam.Factors) -> list[Member]:
        nominal = fam.doubling_points(points)
        exponents = [round(math.log2(x)) for x in nominal]
        return [
            Member(i, x, np.ldexp(base, e), fam.is_exact(factors, np.ldexp(base, e), dtype), e)
            for i, (x, e) in enumerate(zip(nominal, exponents, strict=True))
        ]

    def of(self, values: np.ndarray, at: int | None, base_top: float) -> float:
        top = float(values[0]) if len(values) else 0.0
        return top / base_top if base_top else math.nan

    def stored(self, family: Family, member: Member) -> np.ndarray:
        base = family.matrix
        if base is None:
            base = fam.assemble(family.factors, family.base, family.dtype)
        return (np.asarray(base) * 2.0**member.exponent).astype(family.dtype)  # exact but for under/overflow

    def realised(self, family: Family, member: Member, stored: np.ndarray) -> tuple[np.ndarray, str]:
        matrix, spectrum = family.matrix, family.spectrum
        if (
            matrix is not None
            and spectrum is not None
            and np.array_equal(stored * 2.0**-member.exponent, matrix)
        ):
            # 2^e times the user's matrix, exactly: its spectrum, scaled
            method = "mpmath" if matrix.size <= fam.MAX_REALISED_ELEMENTS else "float64"
            return np.ldexp(spectrum, member.exponent), method
        return super().realised(family, member, stored)

    def point_text(self, member: Member, at: int | None) -> str:
        return f"2^{member.exponent} A"

    def file_tag(self, member: Member) -> str:
        return f"2^{member.exponent}"

    def axis_value(self, x: float) -> str:
        return f"{math.log10(x):.0f}"

    def axis_position(self, x: float) -> float:
        return math.log10(x)

    def x_text(self, x: float) -> str:
        return f"2^{round(math.log2(x))}" if x > 0 else "0"

    def plot_label(self, family: Family) -> str:
        return "scale x: the matrix is 2^e A (dimensionless)"


class Cut(_Spectral):
    """The values below s_K scaled against it: x = s_{K+1} / s_K from exact 0 (nothing discarded) to
    the multiplet at exact 1, the cut of a truncated SVD that keeps K triplets (truncated.py)."""

    name = "cut"
    axis_label = "log10 x/(1-x)"
    lowest_at, held = 1, 1
    moving, quantity = "the last value kept, s_K", "ratio (logit axis)"
    logit = True

    def formula(self, at: int | None) -> str:
        return f"s_{(at or 0) + 1} / s_{at}"

    def default_at(self, values: np.ndarray, level: float, order: int | None = None) -> int:
        if order is None or order >= len(values):
            raise UsageError(f"--vary cut needs --at K < {len(values)}, the triplets kept (or a loss of K)")
        return order

    def nominal(self, at: int, base: np.ndarray, points: int, dtype: str, level: float) -> list[float]:
        return fam.logit_points(points, level)  # 0, log10(x / (1 - x)) evenly spaced, then 1

    def move(self, values: np.ndarray, at: int, x: float, level: float) -> np.ndarray:
        return fam.across_cut(values, at, x, fam.zero_profile(values, at + 1, level))

    def of(self, values: np.ndarray, at: int | None, base_top: float) -> float:
        kept = float(values[at - 1]) if at and len(values) > at else 0.0
        return float(values[at]) / kept if at and kept else math.nan

    def point_text(self, member: Member, at: int | None) -> str:
        return f"s_{(at or 0) + 1}/s_{at} {self.x_text(member.requested)}"

    def file_tag(self, member: Member) -> str:
        return self.x_text(member.requested)

    def axis_value(self, x: float) -> str:
        return "-∞" if x <= 0 else "∞" if x >= 1 else f"{self.axis_position(x):.0f}"

    def axis_position(self, x: float) -> float:
        return math.log10(x / (1.0 - x)) if 0 < x < 1 else math.copysign(math.inf, x - 0.5)

    def x_text(self, x: float) -> str:
        if 0 < x < 0.01 or 0.99 < x < 1:
            return super().x_text(x) if x < 0.5 else f"1-{super().x_text(1.0 - x)}"
        return f"{x:.2g}"


SWEEP_PARAMETERS: dict[str, SweepParameter] = {p.name: p for p in (Gap(), Zero(), Scale(), Cut())}


@dataclass(frozen=True)
class Family:
    """A swept family: what it moves, how its matrices are made, and its members."""

    vary: SweepParameter
    at: int | None
    shape: tuple[int, int]
    dtype: str
    factors: fam.Factors
    base: np.ndarray  # the spectrum the sweep starts from (s_1 of the base matrix for scale)
    members: tuple[Member, ...]
    source: str | None = None  # the user's matrix (--from), by its label
    original: float | None = None  # the parameter of the user's own matrix
    matrix: np.ndarray | None = None  # the user's matrix (scale sweeps of it scale it exactly)
    seed: int = 0
    spectrum: np.ndarray | None = None  # the starting matrix's spectrum, realised (families.realised_values)

    @property
    def parameter(self) -> str:
        """The swept parameter's name: (s_K - s_{K+1}) / s_1, s_K / s_1, or the scale 2^e."""
        return self.vary.formula(self.at)

    @property
    def marked_original(self) -> float | None:
        """The user's own matrix's x, where the reports mark it on the axis."""
        return self.original if self.vary.shows_original else None

    @property
    def zero_level(self) -> float:
        """Relative to s_1, where values are numerically zero (and a realised 0 is as requested)."""
        return fam.zero_level(self.shape, self.dtype)

    @property
    def name(self) -> str:
        m, n = self.shape
        return self.source or f"{m}x{n} {self.factors.kind}"

    def label(self, member: Member) -> str:
        """A point's name in reports: 'seed.npy @ s_3/s_1 1.0e-03', '6x6 dyadic @ gap 0'."""
        return f"{self.name} @ {self.vary.point_text(member, self.at)}"

    def stored(self, member: Member) -> np.ndarray:
        """The matrix of a member, in the dtype the backends compute in."""
        return self.vary.stored(self, member)


@dataclass(frozen=True)
class SweepPoint:
    """One checked point: its member, the realised spectrum and parameter, and check's report."""

    member: Member
    realised: np.ndarray
    realised_parameter: float
    method: str  # how the realised spectrum is known: exact, mpmath or float64
    report: MatrixReport
    file: str | None = None  # where the matrix was saved (--save-matrices)

    @property
    def source(self) -> str:
        """The point's name in reports (its matrix's label)."""
        return self.report.source


@dataclass
class SweepReport:
    """A whole sweep: the family, its checked points in order, and the run they make up."""

    family: Family
    run: RunReport
    points: list[SweepPoint] = field(default_factory=list)
