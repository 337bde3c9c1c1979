"""Judge each backend's gradient of an eigh loss at one real symmetric matrix (``--decomposition eigh``).

Input: a square, finite matrix, real symmetric or complex Hermitian to working precision
(||A - A^H||_F <= ASYMMETRY_TOL n eps ||A||_F; else an InputError giving the asymmetry), or made
so, (A + A^H)/2, with
``--symmetrize``. Reference: numerics/eigh_reference.py; budget: budget.py's make_budget on that
reference (||A||_2 ||DG||_2 + sqrt(n) ||G||, with ||DG||_2 from the gaps and divided differences, so
2^k A has the same relative budget as A). Verdicts, as for the SVD (judge.py ``classify``):

- ``non-finite``: NaN/Inf in the gradient, whatever the reference says; ``failed``: the call raised;
- ``undefined``: the loss has no gradient here (a single eigenvalue at a tie, a projector across a
  closed gap, an eigenvector loss at a tie, logdet/entropy off the positive definite cone);
- ``correct`` / ``inaccurate`` / ``wrong`` by the distance of the gradient's symmetric part to G
  (to the gradient set: ``valid`` inside it); ``indeterminate`` where the budget reaches a tenth of
  ||G||: the data in that dtype (float32) cannot decide.

Where a result lies within the float64 reference's own error of a threshold, or that error exceeds
sqrt(eps) ||G|| (its differences from a backend would pass for the backend's errors), the mpmath
reference (numerics/eigh_highprec.py) decides, as the SVD's does (pipeline/assess.py): automatically
up to highprec.MAX_ELEMENTS entries, always with ``--reference high``, never with ``--reference
float64`` (then an undecided result is settled in the backend's favour, and said so).
Single-precision budgets follow the rounding witness (numerics/eigh_witness.py, budget.py's
witnessed_allowance), as the SVD's do.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from svdgrad_cli.backends.protocol import BackendFailure
from svdgrad_cli.eigh_model import EighReport, EighResult, EighRun
from svdgrad_cli.errors import InputError, UsageError
from svdgrad_cli.numerics.budget import Budget, Witness, make_budget
from svdgrad_cli.numerics.eigh_cotangent import anchored
from svdgrad_cli.numerics.eigh_forward import blame
from svdgrad_cli.numerics.eigh_highprec import affordable, high_precision_eigh
from svdgrad_cli.numerics.eigh_losses import EighLoss
from svdgrad_cli.numerics.eigh_membership import distance
from svdgrad_cli.numerics.eigh_reference import EighReference, eigh_reference
from svdgrad_cli.numerics.eigh_witness import eigh_witness
from svdgrad_cli.numerics.field import adjoint
from svdgrad_cli.numerics.norms import frobenius
from svdgrad_cli.pipeline.assess import LOOSE_BOUND
from svdgrad_cli.pipeline.judge import classify, within_verdict
from svdgrad_cli.pipeline.modes_run import judged_into
from svdgrad_cli.verdicts import BackendVerdict, ReferencePrecision

ASYMMETRY_TOL = 4.0  # symmetric to working precision: ||A - A^H||_F <= this * n * eps * ||A||_F
EXPLAINED = (BackendVerdict.WRONG, BackendVerdict.INACCURATE, BackendVerdict.NON_FINITE)
FLOAT32_NOTE = "cannot be decided in float32: the data determine less than one digit of the gradient"
UNDECIDED_NOTE = (
    "within the float64 reference's own error of the budget: in the backend's favour "
    "(--reference high decides)"
)


def asymmetry(a: np.ndarray) -> float:
    """||A - A^H||_F / ||A||_F (0 for A = 0)."""
    norm = frobenius(a)
    return frobenius(a - adjoint(a)) / norm if norm else 0.0


def symmetric_input(a: np.ndarray, label: str, symmetrize: bool) -> tuple[np.ndarray, float | None]:
    """The matrix to check and the relative asymmetry --symmetrize removed (None if it did not);
    an InputError (one line) for a matrix that is not square, not finite, or not symmetric (Hermitian)."""
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise InputError(label, f"--decomposition eigh needs square matrices; this one is {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(label, "the matrix has NaN or Inf entries")
    gap = asymmetry(a)
    if symmetrize:
        return ((a + adjoint(a)) / 2).astype(a.dtype), gap
    limit = ASYMMETRY_TOL * a.shape[0] * np.finfo(a.dtype).eps
    if gap > limit:
        kind, t = ("Hermitian", "H") if np.iscomplexobj(a) else ("symmetric", "T")
        raise InputError(
            label,
            f"not {kind}: ||A - A^{t}||_F / ||A||_F = {gap:.3g} > {limit:.1g} (working precision); "
            f"--symmetrize checks (A + A^{t})/2",
        )
    return a, None


def _judged(name: str, gradient: np.ndarray, reference: EighReference, budget: Budget) -> EighResult:
    """One finite gradient against a defined reference (verdict None: within the reference's own
    error of a threshold, for a better reference or _settled to decide)."""
    error = distance(gradient, reference)
    scale = budget.scale or 1.0
    skew = frobenius(gradient - adjoint(gradient)) / 2 / scale
    verdict = classify(error, budget, reference.unique)
    return EighResult(name, verdict, error, error / scale, budget.relative, skew, _note(verdict, budget))  # type: ignore[arg-type]


def _note(verdict: BackendVerdict | None, budget: Budget) -> str:
    """Why an ``indeterminate`` result is one (the data, in the backend's dtype); else nothing."""
    if verdict is not BackendVerdict.INDETERMINATE:
        return ""
    return (
        FLOAT32_NOTE if budget.eps >= np.finfo(np.float32).eps else "the data do not determine the gradient"
    )


def _settled(result: EighResult, budget: Budget, unique: bool) -> EighResult:
    """A result the reference cannot decide, with no better reference to ask: in its favour, said so."""
    if result.verdict is not None:
        return result
    verdict = within_verdict(budget, unique)
    return replace(result, verdict=verdict, message=_note(verdict, budget) or UNDECIDED_NOTE)


def judge_gradient(name: str, gradient: np.ndarray, reference: EighReference, budget: Budget) -> EighResult:
    """The verdict of one backend's gradient (see the module docstring; None: undecided, as _judged)."""
    if reference.overflows:  # not a float64: an Inf or NaN gradient is no backend's fault
        return EighResult(name, BackendVerdict.INDETERMINATE, message=reference.method)
    if not np.all(np.isfinite(gradient)):
        message = f"{int(np.sum(~np.isfinite(gradient)))}/{gradient.size} entries NaN/Inf"
        return EighResult(name, BackendVerdict.NON_FINITE, message=message)
    if not reference.defined:
        return EighResult(name, BackendVerdict.UNDEFINED, message=reference.method)
    return _judged(name, gradient, reference, budget)


def _malformed(a: np.ndarray, values, gradients, vectors) -> str | None:
    """Why a backend's answer cannot be judged (one line), or None: each part an array of numbers
    (real or complex) of its shape: eigenvalues (1, n), gradients and eigenvectors (1, n, n)."""
    parts = {"eigenvalues": (values, (1, a.shape[0])), "gradients": (gradients, (1, *a.shape))}
    if vectors is not None:
        parts["eigenvectors"] = (vectors, (1, *a.shape))
    for name, (part, shape) in parts.items():
        kind = np.asarray(part).dtype.kind if isinstance(part, np.ndarray) else "not an array"
        if kind not in ("i", "u", "f", "c"):
            return f"returned {name} that are not numbers ({type(part).__name__} of kind {kind!r})"
        if part.shape != shape:
            return f"returned {name} of shape {part.shape}, not {shape}"
    return None


def _answers(backend, a: np.ndarray, loss: EighLoss):
    """((gradient, eigenvalues, eigenvectors or None), None) of one backend's call, or (None, the
    failure as one line)."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):  # 0/0 at ties: judged, not printed
            warnings.simplefilter("ignore")
            values, gradients, vectors = backend.compute(a[None], loss)
    except BackendFailure as exc:  # a plug-in's worker: what it raised, or why it did not answer
        return None, str(exc)
    except Exception as exc:  # the framework's or the plug-in's error: reported, never a traceback
        first = (str(exc).strip().splitlines() or [""])[0]
        return None, f"{type(exc).__name__}: {first}"
    problem = _malformed(a, values, gradients, vectors)
    if problem:
        return None, problem
    if not np.iscomplexobj(a) and np.iscomplexobj(gradients):
        return None, "returned complex gradients for a real matrix"
    dtype = np.complex128 if np.iscomplexobj(a) else np.float64
    return (np.asarray(gradients[0], dtype=dtype), values[0], None if vectors is None else vectors[0]), None


def _explained(result: EighResult, a: np.ndarray, reference: EighReference, answer) -> EighResult:
    """A finding with its blame: the backend's own eigendecomposition, or its backward pass."""
    if result.verdict not in EXPLAINED or not reference.defined:  # NaN where L has no gradient: no blame
        return result
    _, values, vectors = answer
    return replace(result, forward=blame(a, reference.eigenvalues, values, vectors, np.finfo(a.dtype).eps))


NO_TOLERANCES = (None, None, None)


def _witness(a: np.ndarray, loss: EighLoss, reference: EighReference, tolerances) -> Witness | None:
    """The rounding witness (eigh_witness.py) where it sets the budget: single precision, a unique
    gradient, no budget of the user's (as the SVD's, pipeline/assess.py)."""
    single = np.finfo(a.dtype).eps == np.finfo(np.float32).eps
    if any(t is not None for t in tolerances) or not single or not reference.unique or loss.kind == "wq":
        return None  # wq: its cotangent is read at NumPy's float64 Q, not at a float32 one
    if reference.gradient is None:
        return None
    return eigh_witness(a, loss, reference)


def _wants_high_precision(
    a, loss: EighLoss, reference: EighReference, budget: Budget, results, precision
) -> bool:
    """Whether to ask mpmath (eigh_highprec.py): a unique gradient, not --reference float64, and
    --reference high, or on an affordable matrix a result the float64 reference cannot decide or a
    float64 reference that resolves fewer than half of float64's digits (assess.LOOSE_BOUND: its
    differences from a backend would be shown as that backend's errors)."""
    if precision is ReferencePrecision.FLOAT64 or not (reference.unique and reference.defined):
        return False
    if loss.kind == "wq":  # its cotangent is read at NumPy's float64 Q (eigh_cotangent.py), not mpmath's
        return False
    if reference.overflows or reference.gradient is None:
        return False
    undecided = any(r.verdict is None for r in results)
    loose = budget.uncertainty > LOOSE_BOUND * budget.scale
    return precision is ReferencePrecision.HIGH or ((undecided or loose) and affordable(a))


def judged(a, loss: EighLoss, answers, tolerances, precision: ReferencePrecision, reference: EighReference):
    """(reference, results): every answer judged against the float64 ``reference``, and against the
    mpmath one where that is wanted (_wants_high_precision); what is still undecided settled."""
    witness = _witness(a, loss, reference, tolerances)

    factor, rtol, atol = tolerances

    def against(ref: EighReference):
        budget = make_budget(ref, a.shape, a.dtype, factor, rtol, atol, witness=witness)
        results = [_result(name, answer, failure, a, ref, budget) for name, answer, failure in answers]
        return budget, results

    budget, results = against(reference)
    if _wants_high_precision(a, loss, reference, budget, results, precision):
        reference = high_precision_eigh(a, loss, reference)
        budget, results = against(reference)
    return reference, [_settled(r, budget, reference.unique) for r in results]


def _result(name: str, answer, failure, a, reference: EighReference, budget: Budget) -> EighResult:
    if answer is None:
        return EighResult(name, BackendVerdict.FAILED, message=failure or "")
    return _explained(judge_gradient(name, answer[0], reference, budget), a, reference, answer)


def check_matrix(
    a: np.ndarray,
    label: str,
    loss: EighLoss,
    backends,
    symmetrize: bool = False,
    tolerances=NO_TOLERANCES,
    precision: ReferencePrecision = ReferencePrecision.AUTO,
) -> EighReport:
    """One matrix's report: the reference, and each backend judged against it. ``tolerances``:
    (--budget-factor, --rtol, --atol), as make_budget takes them (None: the calibrated budget);
    ``precision``: --reference."""
    a, removed = symmetric_input(a, label, symmetrize)
    problem = loss.check_fits(a.shape[0])
    if problem:
        raise InputError(label, problem)
    float64 = eigh_reference(a, loss)
    loss = anchored(loss, float64)  # a user's cotangents: at the reference's Q and clusters
    answers = [(backend.name, *_answers(backend, a, loss)) for backend in backends]
    reference, results = judged(a, loss, answers, tolerances, precision, float64)
    values = tuple(float(x) for x in reference.eigenvalues)
    return EighReport(
        label,
        a.shape,
        str(a.dtype),
        loss.name,
        values,
        reference.method,
        reference.defined,
        reference.unique,
        results,
        removed,
        reference.precision,
    )


def record(
    item,
    loss: EighLoss,
    backends,
    seed: int,
    symmetrize: bool,
    run: EighRun,
    notify,
    tolerances=NO_TOLERANCES,
    precision: ReferencePrecision = ReferencePrecision.AUTO,
) -> EighReport | None:
    """A loaded item judged into ``run`` (modes_run.judged_into); a user's cotangent that does not fit
    the matrix is that matrix's input error."""

    def judge(case) -> EighReport:
        try:
            bound = loss.bind(case.array.shape[-1], seed, np.iscomplexobj(case.array))
        except UsageError as exc:
            raise InputError(case.label, str(exc)) from None
        return check_matrix(case.array, case.label, bound, backends, symmetrize, tolerances, precision)

    return judged_into(run, item, judge, notify)
