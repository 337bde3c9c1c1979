"""What a reproducer says (repro.py): its docstring, with the backend's finding and what to install,
and svdgrad's verdict on one line, which the script prints beside what it measures."""

from __future__ import annotations

import math
import textwrap

import numpy as np

from svdgrad_cli._version import __version__
from svdgrad_cli.model import BackendResult, MatrixReport
from svdgrad_cli.verdicts import BackendVerdict


def _digits(value: float | None) -> str:
    return "all" if value is None or math.isinf(value) else f"{max(value, 0.0):.1f}"


def _non_finite(result: BackendResult) -> str:
    if result.gradient is None:
        return result.message or "NaN/Inf entries"
    return f"{int(np.sum(~np.isfinite(result.gradient)))} of {result.gradient.size} entries NaN/Inf"


def said(result: BackendResult) -> str:
    """svdgrad's verdict, error and budget for one backend, on one line."""
    if result.verdict == BackendVerdict.NON_FINITE or result.error is None:
        return f"{result.verdict}, {_non_finite(result)}"
    at_most, at_least = result.bound_marks
    digits = f"{at_least}{_digits(result.digits)} of {_digits(result.justified_digits)} justified digits"
    return f"{result.verdict}, error {at_most}{result.error:.2e}, budget {result.budget:.2e} ({digits})"


def _values(s: np.ndarray) -> str:
    text = [f"{x:.6g}" for x in s]
    return ", ".join(text if len(text) <= 8 else [*text[:5], "...", *text[-2:]])


def finding(report: MatrixReport, result: BackendResult, loss: str, framework: str) -> str:
    """What svdgrad found about this one backend, in a paragraph."""
    reference = report.checked_reference
    values = _values(reference.singular_values)
    where = f"the {loss} loss at {report.label} ({report.dtype}; singular values {values})"
    if result.error is None or result.digits is None:
        return f"{framework} returned {_non_finite(result)} in the gradient of {where}; svdgrad's is finite."
    relative = 10.0**-result.digits if math.isfinite(result.digits) else 0.0
    text = (
        f"{framework} is {result.verdict} for the gradient of {where}: {relative:.2g} relative error from "
        f"svdgrad's reference gradient ({reference.precision}), {_digits(result.digits)} correct digits "
        f"where the data justify {_digits(result.justified_digits)} (error {result.error:.3g}, budget "
        f"{result.budget:.3g}: the error that rounding in {report.dtype} and the gradient's conditioning "
        "allow)."
    )
    if not reference.unique or reference.ball_radius is not None:
        text += (
            " The gradient is a set here: svdgrad measured the distance to the set; the reference saved "
            "with this script is its minimum-norm member, so this run's error can be larger."
        )
    return text


def needed_packages(backend) -> str:
    """What a script needs beside NumPy, by package (not backend) name: a framework, a plug-in's module."""
    if getattr(backend, "spec", None) is not None:  # a plug-in from a spec, in its worker (isolation.py)
        return f"{backend.framework.distribution} and the plug-in's module {backend.spec.module}"
    return backend.distribution


def docstring(
    report: MatrixReport, result: BackendResult, loss: str, version: str | None, stem: str, packages: str
) -> str:
    """The script's docstring: this backend's finding, and how to run the script."""
    framework = f"{result.name} {version}" if version else result.name
    paragraphs = [
        f"svdgrad {__version__} reproducer: {framework}, loss {loss}, {report.label}: {result.verdict}.",
        finding(report, result, loss, framework),
        f"Run it from any directory: python {stem}.py (it reads {stem}.npz beside it: the matrix, the "
        f"reference gradient and the loss's weights). It needs only NumPy and {packages}. The SVD "
        f"call and the differentiation are svdgrad's {result.name} backend, verbatim; the loss is "
        f"svdgrad's own expression, written in {result.name}.",
    ]
    text = "\n\n".join(
        textwrap.fill(p, 100, break_long_words=False, break_on_hyphens=False) for p in paragraphs
    )
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
