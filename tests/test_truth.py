"""svdgrad's verdicts against an independent 60-digit oracle (truth_oracle.py) on exactly known spectra.

Matrices are A = U diag(s) V^T with exactly orthogonal dyadic factors (Hadamard blocks H4 =
kron(H2, H2) / 2, signed permutations, and an 8x8 product of H4 blocks and shuffles), so that A is
exact in binary wherever the bits fit (else the stored float is the true matrix and the oracle finds
its spectrum). The product owner's acceptance rule, with sigma the exact gradient's one-ulp spread:

- rounding (err <= 3 max(m, n) sigma): never ``wrong``/``inaccurate``; ``correct``, or ``indeterminate``
  where the budget is at least a tenth of ||G||;
- beyond (err >= 300 sigma): ``wrong`` or ``inaccurate``;
- in both, ``indeterminate`` (and ``valid``/``undefined``, where svdgrad sees a numerical tie) is
  accepted only where the data do not determine the gradient: sigma / ||G|| >= UNDETERMINED;
- ``inaccurate`` needs err / ||G|| <= sqrt(eps) (plus the float64 reference's own error, which is about
  the float64 budget), ``wrong`` needs err / ||G|| > sqrt(eps);
- every judged verdict carries a finite budget; ``indeterminate`` iff the budget is at least ||G|| / 10;
- a constant loss (proj:K with K = m, G = 0 at every matrix) is determined exactly: ``correct``.

Where the gradient is a set (losses of s at ties and zeros), an answer inside the set is ``valid`` and
one outside it by more than sqrt(eps) ``wrong``; where it does not exist (polar at rank deficiency,
proj:K across a tie), nothing is judged (``undefined``, or ``non-finite``). Cases where svdgrad and the
oracle disagree are marked xfail(strict=True) in DISAGREEMENTS, with the numbers. The oracle's own
closed forms, spreads and set membership are tested first; then injected errors and scale invariance.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest
import truth_oracle as oracle

from svdgrad_cli import check, register_backend, unregister_backend

BACKENDS = ("autograd", "tensorflow", "torch", "jax")
LOSSES = ("sum", "sv:1", "sv:2", "topk:2", "polar", "recon", "proj:1", "proj:2")
DTYPES = ("float64", "float32")
ROUNDING = 3  # err <= ROUNDING * max(m, n) * sigma: rounding
BEYOND = 300  # err >= BEYOND * sigma: beyond rounding
UNDETERMINED = 0.01  # sigma / ||G|| from which the data do not determine the gradient
SET_TOLERANCE = 100  # membership of a gradient set within SET_TOLERANCE * max(m, n) * eps

H2 = np.array([[1.0, 1.0], [1.0, -1.0]])
H4 = np.kron(H2, H2) / 2
P4 = np.eye(4)[[2, 0, 3, 1]] * np.array([1.0, -1.0, 1.0, 1.0])  # a signed permutation
V4 = P4 @ H4  # the product owner's V
S2 = np.array([[0.0, 1.0], [-1.0, 0.0]])


def _block(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.block([[a, np.zeros((4, 4))], [np.zeros((4, 4)), b]])


_SHUFFLE = np.eye(8)[[0, 4, 1, 5, 2, 6, 3, 7]]
_EVENS = np.eye(8)[[0, 2, 4, 6, 1, 3, 5, 7]]
Q8 = _block(H4, V4) @ _SHUFFLE @ _block(V4, H4) @ _SHUFFLE @ _block(H4, V4)  # dense: entries +-1/4, +-3/4
R8 = _block(V4, H4) @ _SHUFFLE @ _block(H4, V4) @ _EVENS @ _block(H4, H4)


@dataclass(frozen=True, eq=False)
class Construction:
    """A = 2^scale * U[:, :k] diag(s) V[:, :k]^T with exactly orthogonal full factors U, V."""

    name: str
    u: np.ndarray
    s: tuple[float, ...]
    v: np.ndarray
    scale: int = 0
    dtypes: tuple[str, ...] = DTYPES  # where the case is meant (not a rounded copy of another one)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.u), len(self.v)

    @property
    def values(self) -> np.ndarray:
        return np.ldexp(np.array(self.s), self.scale)

    @property
    def matrix(self) -> np.ndarray:
        """The float64 product (exact where ``exact_in`` says so)."""
        k = len(self.s)
        return np.ldexp((self.u[:, :k] * np.array(self.s)) @ self.v[:, :k].T, self.scale)

    def exact_product(self) -> list[list[Fraction]]:
        k = len(self.s)
        u, v = _fractions(self.u), _fractions(self.v)
        s = [Fraction(x) * Fraction(2) ** self.scale for x in self.s]
        m, n = self.shape
        return [[sum(u[i][t] * s[t] * v[j][t] for t in range(k)) for j in range(n)] for i in range(m)]

    def exact_in(self, dtype: str) -> bool:
        """Whether the matrix in ``dtype`` is exactly U diag(s) V^T."""
        stored = self.matrix.astype(dtype)
        return _fractions(stored) == self.exact_product()


def _fractions(a: np.ndarray) -> list[list[Fraction]]:
    return [[Fraction(float(x)) for x in row] for row in np.asarray(a, dtype=np.float64)]


def _p(e: int) -> str:
    return f"2^-{e}"


# Gaps s_2 - s_3 of s = (2, 1 + gap, 1, 0.5). Two-sided Hadamard factors (hh) keep A exact down to
# 2^-46 in float64 (2^-52 is stored rounded, and the oracle takes the stored matrix as the truth) and
# to 2^-20 in float32; one-sided ones (h1, A = H4 diag(s) P4^T, each entry +-s_j/2) keep every gap exact.
# Below 2^-23 a float32 matrix rounds to the tied one (hh-tie23), so those gaps are float64 only.
GAPS64 = (1, 4, 10, 20, 30, 40, 46, 52)
GAPS32 = {"hh": (1, 4, 10, 20), "h1": (1, 4, 10, 20, 22, 23)}


def _gap_constructions(family: str, v: np.ndarray) -> list[Construction]:
    made = []
    for e in sorted(set(GAPS64) | set(GAPS32[family])):
        dtypes = tuple(d for d, ok in (("float64", e in GAPS64), ("float32", e in GAPS32[family])) if ok)
        made.append(
            Construction(f"{family}-gap{_p(e)}", H4, (2.0, 1.0 + 2.0**-e, 1.0, 0.5), v, dtypes=dtypes)
        )
    return made


CONSTRUCTIONS = [
    *_gap_constructions("hh", V4),
    *_gap_constructions("h1", P4),
    Construction(f"hh-top{_p(10)}", H4, (1.0 + 2.0**-10, 1.0, 0.5, 0.25), V4),
    Construction(f"hh-top{_p(30)}", H4, (1.0 + 2.0**-30, 1.0, 0.5, 0.25), V4, dtypes=("float64",)),
    Construction("hh-tie23", H4, (2.0, 1.0, 1.0, 0.5), V4),
    Construction("hh-tie-all", H4, (1.0, 1.0, 1.0, 1.0), V4),
    Construction("hh-tie12", H4, (2.0, 2.0, 1.0, 0.5), V4),
    Construction("hh-rank3", H4, (2.0, 1.0, 0.5, 0.0), V4),
    Construction("hh-rank2", H4, (2.0, 1.0, 0.0, 0.0), V4),
    Construction("hh-rank1", H4, (1.0, 0.0, 0.0, 0.0), V4),
    *(
        Construction(f"hh-{label}-x2^{e}", H4, s, V4, e)
        for e in (-100, 100)
        for label, s in (("sep", (2.0, 1.5, 1.0, 0.5)), (f"gap{_p(20)}", (2.0, 1.0 + 2.0**-20, 1.0, 0.5)))
    ),
    *(
        Construction(f"{name}-{label}", u, s[: min(len(u), len(v))], v)
        for name, u, v in (("tall8x4", Q8, V4), ("wide4x8", H4, R8), ("tall4x2", H4, S2), ("wide2x4", S2, H4))
        for label, s in (
            ("sep", (2.0, 1.5, 1.0, 0.5)),
            (f"gap{_p(20)}", (2.0, 1.0 + 2.0**-20, 1.0, 0.5)),
            ("rank-1", (2.0, 1.0, 0.5, 0.0) if min(len(u), len(v)) == 4 else (1.0, 0.0)),
        )
    ),
    Construction("sq8-sep", Q8, (4.0, 3.0, 2.0, 1.5, 1.0 + 2.0**-10, 1.0, 0.5, 0.25), R8),
    Construction(f"sq8-gap{_p(30)}", R8, (2.0, 1.75, 1.5, 1.0 + 2.0**-30, 1.0, 0.75, 0.5, 0.25), Q8),
]


@dataclass(frozen=True)
class Case:
    construction: Construction
    loss: str
    dtype: str

    @property
    def id(self) -> str:
        return f"{self.construction.name}-{self.dtype}-{self.loss}"

    @property
    def matrix(self) -> np.ndarray:
        """The true matrix: the construction stored in the working dtype, as float64."""
        return self.construction.matrix.astype(self.dtype).astype(np.float64)

    @property
    def group(self) -> tuple:
        return self.construction.shape, self.dtype, self.loss


CASES = [Case(c, loss, dtype) for c in CONSTRUCTIONS for dtype in c.dtypes for loss in LOSSES]
CONSTRUCTION_BY_NAME = {c.name: c for c in CONSTRUCTIONS}


@functools.cache
def svdgrad_reports(group: tuple) -> dict[bytes, object]:
    """One svdgrad run over every case matrix of a (shape, dtype, loss) group, keyed by the matrix."""
    members = [case for case in CASES if case.group == group]
    stack = np.stack([case.matrix for case in members]).astype(group[1])
    report = check(stack, loss=group[2], backends=list(BACKENDS), dtype=group[1], seed=0)
    assert len(report.results) == len(members)
    return {case.matrix.tobytes(): result for case, result in zip(members, report.results, strict=True)}


def svdgrad_report(case: Case):
    return svdgrad_reports(case.group)[case.matrix.tobytes()]


def weight_of(result) -> np.ndarray | None:
    return result.loss_weights.get("C")


@dataclass(frozen=True)
class Row:
    """One backend on one case: svdgrad's verdict, the oracle's numbers and what is wrong with it."""

    backend: str
    verdict: str
    error: float | None  # the oracle's ||g - G||_F
    budget: float | None  # svdgrad's budget
    label: str  # rounding | between | beyond | non-finite | set | undefined | failed
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    case: Case
    status: str
    spread: oracle.Spread | None
    matrix_verdict: str
    rows: tuple[Row, ...]

    @property
    def problems(self) -> list[str]:
        return [f"{row.backend}: {p}" for row in self.rows for p in row.problems]


def eps_of(dtype: str) -> float:
    return float(np.finfo(dtype).eps)


def label_of(error: float, sigma: float, shape: tuple[int, int]) -> str:
    if error <= ROUNDING * max(shape) * sigma:
        return "rounding"
    return "beyond" if error >= BEYOND * sigma else "between"


def unique_problems(verdict: str, label: str, error: float, budget, spread, dtype: str) -> list[str]:
    """What svdgrad's verdict on a unique gradient violates of the acceptance rule."""
    judged = verdict in ("correct", "indeterminate", "inaccurate", "wrong", "valid")
    if judged and (budget is None or not math.isfinite(budget)):
        return [f"{verdict} with budget {budget}"]
    problems = []
    norm = spread.gradient_norm
    if norm == 0:  # a constant loss (proj:K with K = m): G = 0 at every matrix, determined exactly
        return [] if verdict == "correct" else [f"{verdict} for a constant loss (G = 0)"]
    undetermined = spread.relative >= UNDETERMINED
    accepted = ("correct", "indeterminate", *(("valid", "undefined") if undetermined else ()))
    if label == "rounding" and verdict not in accepted:
        problems.append(f"{verdict} at a rounding-level error")
    if label == "beyond" and not (
        verdict in ("wrong", "inaccurate")
        or (undetermined and verdict in ("indeterminate", "valid", "undefined"))
    ):
        problems.append(f"{verdict} at an error beyond rounding")
    root = math.sqrt(eps_of(dtype)) * norm
    if verdict == "inaccurate" and error > root + budget:
        problems.append(f"inaccurate, but err/||G|| = {error / norm:.3g} > sqrt(eps)")
    if verdict == "wrong" and error <= 0.99 * root:
        problems.append(f"wrong, but err/||G|| = {error / norm:.3g} <= sqrt(eps)")
    if verdict == "indeterminate" and budget < 0.099 * norm:
        problems.append(f"indeterminate with budget/||G|| = {budget / norm:.3g} < 0.1")
    if verdict == "correct" and budget >= 0.101 * norm:
        problems.append(f"correct with budget/||G|| = {budget / norm:.3g} >= 0.1")
    return problems


def judge_unique(case: Case, result) -> tuple[oracle.Spread, list[Row]]:
    a, c = case.matrix, weight_of(result)
    spread = oracle.spread(a, case.dtype, case.loss, c)
    exact = oracle.gradient(a, case.loss, c)
    rows = []
    for b in result.backends:
        if b.gradient is None:
            rows.append(Row(b.name, b.verdict, None, b.budget, "failed", ()))
            continue
        if not np.all(np.isfinite(b.gradient)):
            problems = () if b.verdict == "non-finite" else (f"{b.verdict} for a non-finite gradient",)
            rows.append(Row(b.name, b.verdict, None, b.budget, "non-finite", problems))
            continue
        error = oracle.distance(b.gradient, exact)
        label = label_of(error, spread.sigma, a.shape)
        problems = unique_problems(b.verdict, label, error, b.budget, spread, case.dtype)
        rows.append(Row(b.name, b.verdict, error, b.budget, label, tuple(problems)))
    return spread, rows


def judge_set(case: Case, result) -> list[Row]:
    """A loss of s at a kink: an answer inside the gradient set (within rounding) must be ``valid``, one
    outside it by more than sqrt(eps) must be ``wrong``."""
    con = case.construction
    assert con.exact_in(case.dtype)
    w = oracle.as_loss(case.loss).weights(len(con.s))
    tolerance = SET_TOLERANCE * max(con.shape) * eps_of(case.dtype)
    rows = []
    for b in result.backends:
        if b.gradient is None or not np.all(np.isfinite(b.gradient)):
            rows.append(Row(b.name, b.verdict, None, b.budget, "non-finite", ()))
            continue
        violation = oracle.spectral_set_violation(b.gradient, con.u, con.values, con.v, w)
        inside = violation <= tolerance
        problems = []
        if inside and b.verdict != "valid":
            problems.append(f"{b.verdict} for a member of the set")
        if violation > math.sqrt(eps_of(case.dtype)) and b.verdict != "wrong":
            problems.append(f"{b.verdict} for an answer {violation:.3g} outside the set")
        rows.append(
            Row(b.name, b.verdict, violation, b.budget, "set" if inside else "outside", tuple(problems))
        )
    return rows


def judge_undefined(result) -> list[Row]:
    rows = []
    for b in result.backends:
        finite = b.gradient is not None and bool(np.all(np.isfinite(b.gradient)))
        expected = "undefined" if finite else "non-finite"
        problems = () if b.verdict == expected else (f"{b.verdict} where the loss has no gradient",)
        rows.append(Row(b.name, b.verdict, None, b.budget, "undefined", problems))
    return rows


@functools.cache
def outcome(case: Case) -> Outcome:
    result = svdgrad_report(case)
    a = case.matrix
    status = oracle.status(a, case.loss)
    spread = None
    if status == "unique":
        spread, rows = judge_unique(case, result)
    elif status == "set":
        rows = judge_set(case, result)
    else:
        rows = judge_undefined(result)
        if result.verdict not in ("undefined", "non-finite"):
            rows.append(Row("matrix", result.verdict, None, None, "undefined", ("matrix verdict",)))
    return Outcome(case, status, spread, str(result.verdict), tuple(rows))


# Cases where svdgrad's verdict and the oracle's acceptance rule disagree (see the report).
_SIGNED_PERMUTATION = (
    "rule artifact, not an svdgrad bug: A = H4 V4^T is a signed permutation, whose polar factor does not "
    "move under relative changes of its non-zero entries, so sigma comes only from the 2^-24-shifted ulp of "
    "its 12 zeros ({sigma}); TensorFlow's honest rounding error {err} is then 'beyond' while svdgrad says "
    "correct (budget {budget})"
)

DISAGREEMENTS: dict[str, str] = {
    "hh-tie-all-float64-sum": _SIGNED_PERMUTATION.format(sigma="4.2e-23", err="3.1e-16", budget="3.3e-14"),
    "hh-tie-all-float32-sum": _SIGNED_PERMUTATION.format(sigma="2.2e-14", err="8.6e-08", budget="5.8e-07"),
}


def _param(case: Case):
    reason = DISAGREEMENTS.get(case.id)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_verdict_agrees_with_the_oracle(case):
    result = outcome(case)
    assert not result.problems, result.problems


# --- the oracle itself: exact constructions, closed forms, spreads, set membership ---------------------


@pytest.mark.parametrize("factor", [H4, V4, P4, S2, Q8, R8], ids=["H4", "V4", "P4", "S2", "Q8", "R8"])
def test_factors_are_exactly_orthogonal(factor):
    f = _fractions(factor)
    n = len(f)
    gram = [[sum(f[t][i] * f[t][j] for t in range(n)) for j in range(n)] for i in range(n)]
    assert gram == [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]


@pytest.mark.parametrize("con", CONSTRUCTIONS, ids=[c.name for c in CONSTRUCTIONS])
def test_oracle_spectrum_is_the_constructed_one(con):
    """Where the stored matrix is exact, the oracle's s_i^2 are exactly those constructed (to 1e-50 s_1^2)."""
    exact = [d for d in con.dtypes if con.exact_in(d)]
    inexact = {"hh-gap2^-52": ["float64"], "sq8-gap2^-30": ["float32"]}
    assert [d for d in con.dtypes if d not in exact] == inexact.get(con.name, [])
    for dtype in exact:
        found = oracle.gram_values(con.matrix.astype(dtype).astype(np.float64))
        for got, want in zip(found, con.values, strict=True):
            assert abs(got - oracle.mp.mpf(float(want)) ** 2) <= 1e-50 * con.values[0] ** 2


STATUSES = {  # Lewis (1995): unique iff w is constant on tied positive clusters and 0 on zeros
    "hh-tie23": ("unique", "unique", "set", "set", "unique", "unique", "unique", "undefined"),
    "hh-tie12": ("unique", "set", "set", "unique", "unique", "unique", "undefined", "unique"),
    "hh-tie-all": ("unique", "set", "set", "set", "unique", "unique", "undefined", "undefined"),
    "hh-rank3": ("set", "unique", "unique", "unique", "undefined", "unique", "unique", "unique"),
    "hh-rank1": ("set", "unique", "set", "set", "undefined", "unique", "unique", "undefined"),
    "wide2x4-rank-1": ("set", "unique", "set", "set", "undefined", "unique", "unique", "unique"),
}


@pytest.mark.parametrize("name", STATUSES)
def test_oracle_status_at_ties_and_zeros(name):
    a = CONSTRUCTION_BY_NAME[name].matrix
    assert tuple(oracle.status(a, loss) for loss in LOSSES) == STATUSES[name]


CHECKED_FORMS = [
    ("hh-tie23", "sum"),
    ("hh-tie23", "sv:1"),
    ("hh-gap2^-10", "sv:2"),
    ("hh-rank3", "sv:2"),
    ("hh-tie12", "topk:2"),
    ("tall8x4-sep", "topk:2"),
    ("hh-tie23", "polar"),
    ("tall8x4-gap2^-20", "polar"),
    ("wide4x8-sep", "polar"),
    ("wide4x8-rank-1", "recon"),
    ("hh-tie23", "proj:1"),
    ("hh-rank2", "proj:2"),
    ("tall8x4-sep", "proj:2"),
    ("wide4x8-gap2^-20", "proj:1"),
    ("wide2x4-sep", "proj:1"),
    ("hh-gap2^-40", "sv:2"),
]


@pytest.mark.parametrize(("name", "loss"), CHECKED_FORMS)
def test_closed_form_matches_60_digit_central_differences(name, loss):
    """<G, E> against (L(A + hE) - L(A - hE)) / 2h, h = 1e-28, at 60 digits: truncation
    ~(h / gap)^2 and rounding ~1e-32 relative, both far below 1e-25; a wrong term shows up at order 1."""
    a = CONSTRUCTION_BY_NAME[name].matrix
    assert oracle.status(a, loss) == "unique"
    rng = np.random.default_rng(7)
    c = rng.standard_normal((a.shape[0], a.shape[0]) if loss.startswith("proj") else a.shape)
    for _ in range(2):
        e = rng.standard_normal(a.shape)
        fd = oracle.central_difference(a, loss, c, e, 1e-28)
        closed = oracle.directional_derivative(a, loss, c, e)
        assert abs(fd - closed) <= 1e-25 * (abs(closed) + oracle.frobenius(oracle.gradient(a, loss, c)))


@pytest.mark.parametrize("name", ["hh-tie23", "hh-gap2^-20", "tall8x4-sep", "wide4x8-gap2^-20", "sq8-sep"])
def test_polar_factor_by_eigsy_equals_the_one_by_sqrtm(name):
    a = CONSTRUCTION_BY_NAME[name].matrix
    q = oracle.polar_factor(a)
    assert oracle.frobenius(q - oracle.polar_factor_by_sqrtm(a)) < 1e-50
    k = min(a.shape)
    gram = q.T * q if a.shape[0] >= a.shape[1] else q * q.T
    assert oracle.frobenius(gram - oracle.mp.eye(k)) < 1e-50


U_DIAG_W_VT = [
    (name, loss)
    for name in ("hh-gap2^-1", "hh-tie23", "hh-rank2", "h1-gap2^-52", "tall8x4-sep", "wide4x8-sep")
    for loss in ("sum", "sv:1", "sv:2", "topk:2")
    if oracle.status(CONSTRUCTION_BY_NAME[name].matrix, loss) == "unique"
]


@pytest.mark.parametrize(("name", "loss"), U_DIAG_W_VT)
def test_spectral_gradient_is_the_constructed_u_diag_w_vt(name, loss):
    """Where unique, the Gram-matrix closed form equals U diag(w) V^T of the exact factors."""
    con = CONSTRUCTION_BY_NAME[name]
    a = con.matrix
    k = len(con.s)
    w = oracle.as_loss(loss).weights(k)
    expected = (con.u[:, :k] * w) @ con.v[:, :k].T  # exact: dyadic entries
    assert oracle.frobenius(oracle.gradient(a, loss) - oracle.to_mp(expected)) < 1e-45


@pytest.mark.parametrize("loss", LOSSES)
def test_spread_is_the_linearized_one_where_the_gap_is_wide(loss):
    """sigma (exact, nonlinear) against ||DG[D o ulp]|| by a 1e-20 forward difference of the closed
    form, and float32 against float64: on a well-separated exact matrix the ulps differ by 2^29."""
    a = CONSTRUCTION_BY_NAME["hh-gap2^-1"].matrix
    c = np.random.default_rng(3).standard_normal((4, 4))
    base = oracle.gradient(a, loss, c)
    unit = oracle.ulp(a, np.float64)
    step = oracle.mp.mpf("1e-20")
    linear = 0.0
    for d in oracle.sign_patterns(a.shape, 6, 0):
        moved = oracle.to_mp(a) + step * oracle.to_mp(d * unit)
        linear = max(linear, oracle.frobenius((oracle.gradient(moved, loss, c) - base) / step))
    spread64 = oracle.spread(a, "float64", loss, c)
    assert spread64.sigma == pytest.approx(linear, rel=1e-6)
    assert oracle.spread(a, "float32", loss, c).sigma == pytest.approx(2.0**29 * linear, rel=1e-6)


def test_ulp_of_zero_entries_is_shifted_below_the_largest_entry():
    a = np.array([[1.5, 0.0], [-0.25, 3.0]])
    assert oracle.ulp(a, np.float64).tolist() == [[2.0**-52, 2.0**-51 * 2.0**-24], [2.0**-54, 2.0**-51]]
    assert oracle.ulp(a, np.float32).tolist() == [[2.0**-23, 2.0**-22 * 2.0**-24], [2.0**-25, 2.0**-22]]


def _in_basis(con: Construction, x: np.ndarray) -> np.ndarray:
    """U X V^T for X given in the SVD basis (exact: dyadic)."""
    return con.u @ x @ con.v.T


def _set_examples() -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(construction, loss, a member, a non-member) of each kind of gradient set, in the SVD basis."""
    tie, rank2 = np.zeros((4, 4)), np.zeros((4, 4))
    tie[0, 0] = 1.0
    rank2[0, 0] = rank2[1, 1] = 1.0
    sum_in, sum_out = rank2.copy(), rank2.copy()
    sum_in[2:, 2:] = [[0.75, 0.0], [0.0, -0.5]]  # ||W||_2 <= 1 (Watson 1992)
    sum_out[2:, 2:] = [[1.25, 0.0], [0.0, 0.0]]
    topk_in, topk_out = tie.copy(), tie.copy()
    topk_in[1:3, 1:3] = [[0.5, 0.25], [0.25, 0.5]]  # 0 <= M <= I, tr M = 1 (Watson 1993)
    topk_out[1:3, 1:3] = [[1.0, 0.5], [0.5, 0.0]]
    sv_in, sv_out = np.zeros((4, 4)), np.zeros((4, 4))
    sv_in[1:3, 1:3] = [[0.25, 0.0], [0.0, 0.75]]  # M >= 0, tr M = 1 (Clarke)
    sv_out[1:3, 1:3] = [[0.5, 0.5], [-0.5, 0.5]]  # not symmetric
    zero_in, zero_out = np.zeros((4, 4)), np.zeros((4, 4))
    zero_in[1:, 1:] = np.diag([0.5, -0.5, 0.0])  # ||W||_* <= 1 at s_2 = 0 (Lewis and Sendov 2005)
    zero_out[1:, 1:] = np.diag([0.75, 0.5, 0.0])
    return [
        ("hh-rank2", "sum", sum_in, sum_out),
        ("hh-tie23", "topk:2", topk_in, topk_out),
        ("hh-tie23", "sv:2", sv_in, sv_out),
        ("hh-rank1", "sv:2", zero_in, zero_out),
    ]


@pytest.mark.parametrize(("name", "loss", "inside", "outside"), _set_examples())
def test_set_membership_of_the_oracle(name, loss, inside, outside):
    con = CONSTRUCTION_BY_NAME[name]
    assert oracle.status(con.matrix, loss) == "set"
    w = oracle.as_loss(loss).weights(4)
    assert oracle.spectral_set_violation(_in_basis(con, inside), con.u, con.values, con.v, w) < 1e-14
    assert oracle.spectral_set_violation(_in_basis(con, outside), con.u, con.values, con.v, w) >= 0.2


# --- svdgrad against injected answers ------------------------------------------------------------------


def _constant_backend(gradient: np.ndarray):
    def compute(stack, loss):
        values = np.linalg.svd(stack.astype(np.float64), compute_uv=False)
        return values.astype(stack.dtype), np.broadcast_to(gradient, stack.shape).astype(stack.dtype)

    return compute


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "loss", "inside", "outside"), _set_examples())
def test_svdgrad_calls_set_members_valid_and_outsiders_wrong(name, loss, inside, outside, dtype):
    con = CONSTRUCTION_BY_NAME[name]
    verdicts = []
    for member in (inside, outside):
        register_backend("truth-set", _constant_backend(_in_basis(con, member)))
        try:
            result = check(con.matrix.astype(dtype), loss=loss, backends=["truth-set"], dtype=dtype)
        finally:
            unregister_backend("truth-set")
        verdicts.append(str(result.results[0].backends[0].verdict))
    assert verdicts == ["valid", "wrong"]


def _random_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def well_conditioned(n: int, seed: int) -> np.ndarray:
    """U diag(s) V^T with random orthogonal U, V and s evenly spread over [1, 2]."""
    rng = np.random.default_rng(seed)
    return (_random_orthogonal(n, rng) * np.linspace(2.0, 1.0, n)) @ _random_orthogonal(n, rng).T


INJECTED = {"float32": 1e-3, "float64": 1e-9}


def _injecting_backend(relative: float, seed: int, exact: dict):
    """A backend returning the oracle's exact gradient plus a random error of Frobenius size
    ``relative`` * ||G||; the exact gradient it used is left in ``exact``."""

    def compute(stack, loss):
        rng = np.random.default_rng(seed)
        values, gradients = [], []
        for a in stack.astype(np.float64):
            c = getattr(loss, "arrays", {}).get("C")
            g = (
                oracle.gradient_float64(a, loss.name, c)
                if a.size > 64
                else oracle.to_float(oracle.gradient(a, loss.name, c))
            )
            noise = rng.standard_normal(g.shape)
            exact["gradient"] = g
            gradients.append(g + relative * np.linalg.norm(g) * noise / np.linalg.norm(noise))
            values.append(np.linalg.svd(a, compute_uv=False))
        return np.array(values).astype(stack.dtype), np.array(gradients).astype(stack.dtype)

    return compute


# 128x128 float32 proj:1 and proj:2 were xfail here until issue 20: budgets of 2.7e-3 and 1.1e-3 called
# the injected 1e-3 correct; with the budget calibrated on real-use spectra they are 3.8e-4 and 2.5e-4.
INJECTION_CASES = [(n, dtype, loss) for n in (8, 32, 128) for dtype in DTYPES for loss in LOSSES] + [
    (768, "float32", "sum")
]


@pytest.mark.parametrize(("n", "dtype", "loss"), INJECTION_CASES)
def test_injected_error_is_never_correct(n, dtype, loss):
    """8x8 uses the 60-digit oracle; larger sizes its float64 closed forms (~1e-13 relative error)."""
    a = well_conditioned(n, seed=n).astype(dtype)
    relative = INJECTED[dtype]
    exact: dict = {}
    register_backend("truth-injected", _injecting_backend(relative, n, exact))
    try:
        result = check(a, loss=loss, backends=["truth-injected"], dtype=dtype, seed=0).results[0]
    finally:
        unregister_backend("truth-injected")
    b = result.backends[0]
    norm = np.linalg.norm(exact["gradient"])
    assert np.linalg.norm(b.gradient.astype(np.float64) - exact["gradient"]) / norm == pytest.approx(
        relative, rel=0.01
    )
    expected = "wrong" if relative > math.sqrt(eps_of(dtype)) else "inaccurate"
    assert b.verdict == expected, (b.verdict, b.budget / norm)


# --- scale invariance ----------------------------------------------------------------------------------

SCALES = (-100, 0, 100)


def _exact_backend(stack, loss):
    """The oracle's exact gradient rounded to the working dtype: always finite, so always budgeted."""
    c = getattr(loss, "arrays", {}).get("C")
    gradients = [oracle.to_float(oracle.gradient(a, loss.name, c)) for a in stack.astype(np.float64)]
    values = np.linalg.svd(stack.astype(np.float64), compute_uv=False)
    return values.astype(stack.dtype), np.array(gradients).astype(stack.dtype)


SCALE_CASES = [
    (name, dtype)
    for name in ("hh-gap2^-1", "hh-gap2^-10", "hh-gap2^-20")
    for dtype in DTYPES
    if (name, dtype) != ("hh-gap2^-20", "float32")  # a numerical tie in float32: proj:2 is undefined
]


@pytest.mark.parametrize(("name", "dtype"), SCALE_CASES)
@pytest.mark.parametrize("loss", LOSSES)
def test_relative_budget_is_scale_invariant(loss, name, dtype):
    """budget / ||G|| (||G|| from the oracle at each scale) is the same at 2^-100 A, A and 2^100 A for
    every backend that is judged (in float32 the frameworks overflow at 2^+-100 on losses of U and V;
    the oracle's own exact answer, as a registered backend, is judged at every scale and is correct)."""
    con = CONSTRUCTION_BY_NAME[name]
    stack = np.stack([np.ldexp(con.matrix, e) for e in SCALES]).astype(dtype)
    register_backend("truth-exact", _exact_backend)
    try:
        results = check(stack, loss=loss, backends=[*BACKENDS, "truth-exact"], dtype=dtype, seed=0).results
    finally:
        unregister_backend("truth-exact")
    relative = {}
    for a, result in zip(stack.astype(np.float64), results, strict=True):
        norm = oracle.frobenius(oracle.gradient(a, loss, weight_of(result)))
        for b in result.backends:
            if b.budget is not None:
                relative.setdefault(b.name, []).append(b.budget / norm)
        assert result.backends[-1].verdict == "correct"
    assert len(relative["truth-exact"]) == len(SCALES)
    reference = relative["truth-exact"][1]
    for name, values in relative.items():
        assert max(abs(v - reference) for v in values) <= 1e-12 * reference, (name, values)
