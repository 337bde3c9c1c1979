"""Hand-built reports covering every verdict, a failed backend and an input error full of specials."""

from __future__ import annotations

import numpy as np
import pytest

from svdgrad_cli.model import BackendResult, Finding, MatrixReport, PairDiff, Reference, RunReport, Settings

# Every character some format has to escape: GitHub (% : , CR LF), XML (< & "), Markdown (|).
NASTY_SOURCE = 'in/odd%name,v1:x<&">|.csv'
NASTY_ERROR = 'bad value "1,2" at line 3: 100% <broken> & more\nsecond line'
NEAR_ZERO = Finding("near-zero", "1 singular value is numerically zero (s_3 <= 6.7e-16 * s_1).", (3,))
GRADIENT = np.array([[1.0, 0.0], [0.0, 1.0]])


def reference(unique: bool = True) -> Reference:
    return Reference(np.array([2.0, 1.0]), 2, unique, "analytic", GRADIENT, "the gradient U V^T")


def backend(name: str, verdict: str, multiple: float | None = 0.1, **fields) -> BackendResult:
    """A judged backend; ``multiple`` sets error/budget so that budget_multiple equals it."""
    judged = {"error": multiple * 1e-14, "budget": 1e-14} if multiple is not None else {}
    values = {"status": "ok", "singular_values": np.array([2.0, 1.0]), "gradient": GRADIENT, **judged}
    return BackendResult(name, **{**values, **fields, "verdict": verdict})


def matrix(source: str, verdict: str, backends, index=(), **fields) -> MatrixReport:
    pairs = (PairDiff(backends[0].name, backends[1].name, 3e-16, 3e-16),) if len(backends) > 1 else ()
    values = {"pairs": pairs, "reference": reference(), "warnings": ()}
    return MatrixReport(
        source=source,
        index=index,
        shape=(2, 2),
        dtype="float64",
        status="checked",
        verdict=verdict,
        explanation=f"{verdict} explanation",
        backends=tuple(backends),
        **{**values, **fields},
    )


def input_error(source: str, message: str) -> MatrixReport:
    return MatrixReport(source, (), (), None, "error", "error", message, error=message)


def build_results() -> list[MatrixReport]:
    nan_gradient = np.array([[np.nan, 0.0], [0.0, np.inf]])
    return [
        matrix("in/a.npy", "agree", [backend("autograd", "correct", 0.01), backend("tensorflow", "correct")]),
        matrix(
            "in/stack.npz:w",
            "non-unique",
            [backend("autograd", "valid"), backend("tensorflow", "valid", 0.5)],
            index=(1,),
            reference=reference(unique=False),
            warnings=(NEAR_ZERO,),
        ),
        matrix(
            "in/b|pipe.csv", "wrong", [backend("autograd", "correct"), backend("tensorflow", "wrong", 52.0)]
        ),
        matrix(
            "in/c.npy",
            "non-finite",
            [
                backend("autograd", "correct"),
                backend(
                    "tensorflow",
                    "non-finite",
                    None,
                    status="non-finite",
                    message="2 of 4 gradient entries are NaN or Inf",
                    gradient=nan_gradient,
                ),
            ],
            pairs=(PairDiff("autograd", "tensorflow", None, None),),
        ),
        matrix(
            "in/d.npy",
            "error",
            [
                backend("autograd", "correct"),
                BackendResult("tensorflow", "failed", "RuntimeError: boom", verdict="failed"),
            ],
            pairs=(PairDiff("autograd", "tensorflow", None, None),),
        ),
        input_error(NASTY_SOURCE, NASTY_ERROR),
    ]


@pytest.fixture
def run() -> RunReport:
    return RunReport(Settings(backends=("autograd", "tensorflow")), build_results())


@pytest.fixture
def many_run() -> RunReport:
    """60 agreeing matrices with budget multiples 0.00 ... 0.59, then one wrong: 61 checked in all."""
    agree = [
        matrix(f"in/m{i:02d}.npy", "agree", [backend("autograd", "correct", i / 100)]) for i in range(60)
    ]
    wrong = matrix("in/z.npy", "wrong", [backend("autograd", "wrong", 20.0)])
    return RunReport(Settings(backends=("autograd",)), [*agree, wrong])
