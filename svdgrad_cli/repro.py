"""--save-repro DIR: a matrix and a stand-alone script per finding, to attach to a framework bug report.

For every built-in backend judged ``wrong``, ``inaccurate`` or ``non-finite`` (REPRODUCED) svdgrad writes
``<stem>.npz`` (the matrix, the float64 reference gradient and the loss's weight arrays) and
``<stem>.py``, a script that needs only NumPy and that framework and reads the .npz beside itself, from
any working directory. The script carries:

- a docstring with that backend's own finding (verdict, relative error, correct and justified digits,
  error and budget, loss, matrix, framework version);
- the backend's SVD call and differentiation, verbatim (``inspect.getsource`` of the module's
  SCRIPT_FUNCTIONS but ``framework_ops``), so that it runs the code svdgrad ran, JAX's jit included;
- the loss as plain framework code, translated mechanically from the loss's one expression (losses.py)
  with the module's SCRIPT_OPS templates (``framework_code``); an op or a construct outside that small
  grammar is a ValueError, never a silent difference;
- at the end, what svdgrad said beside what the run measures (error from the reference, NaN/Inf count).

The stem is the input's file name without its suffix, the archive member, the stack index and the
backend, joined by '-' (``stack.npy[1]`` -> ``stack-1-torch``, ``f.npz:m`` -> ``f-m-torch``), other
characters as '_'; a stem a run has taken (``taken``, case-folded) gets -2, -3, ...: no overwrites.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
from dataclasses import replace
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from svdgrad_cli.backends import plugins, registry
from svdgrad_cli.model import ARCHIVE_MEMBER, BackendResult, MatrixReport
from svdgrad_cli.numerics.losses import Loss, VectorLoss, parse_loss
from svdgrad_cli.render.repro_text import docstring, needed_packages, said
from svdgrad_cli.verdicts import BackendVerdict

REPRODUCED = frozenset({BackendVerdict.WRONG, BackendVerdict.INACCURATE, BackendVerdict.NON_FINITE})
NOTHING_TO_REPRODUCE = (
    "nothing to reproduce: no backend was wrong, inaccurate or non-finite where the loss has a gradient"
)
NOT_EMBEDDED = frozenset({"framework_ops"})  # the script spells the loss in the framework's own calls
IMPORTS = {  # a name the embedded backend source uses -> the import that binds it
    "functools": "import functools",
    "os": "import os",
    "contextmanager": "from contextlib import contextmanager",
    "SimpleNamespace": "from types import SimpleNamespace",
    "inspect": "import inspect",
    "sys": "import sys",
}
UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
MAX_STEM = 100  # characters of the matrix's part of a file name (file systems allow 255)
OPERANDS = ("X", "Y")  # the positional operands of a SCRIPT_OPS template; AXES is the axes keyword
# The loss grammar: ops.<op>(...) calls, names, numbers, None/..., + - * ** and indexing.
GRAMMAR: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.Call,
    ast.Attribute,
    ast.Name,
    ast.Load,
    ast.keyword,
    ast.BinOp,
    ast.UnaryOp,
)
GRAMMAR += (ast.Add, ast.Sub, ast.Mult, ast.Pow, ast.USub, ast.Subscript, ast.Slice, ast.Tuple, ast.Constant)

SCRIPT = '''\
"""{docstring}
"""

{imports}

import numpy as np

data = np.load(Path(__file__).resolve().with_name("{npz}"))  # beside this script, from any directory
A = data["matrix"]  # as svdgrad's backends saw it, in the dtype they computed in
REFERENCE = data["reference_gradient"]  # svdgrad's reference gradient of the loss at A (float64/complex128)
SVDGRAD_SAID = {said}


# svdgrad's {backend} backend, verbatim: the framework, its SVD call and the differentiation.
{backend_source}

{binding}


def objective(x, constants):
    """The {loss} loss of the thin SVD of x, and the factors."""
    u, s, v = thin_factors(x, needs_vectors={needs_vectors}, full_matrices={full_matrices})
{unpack}    # svdgrad's expression of the loss (losses.py): {expression}
    loss = {code}
    return loss, (s, u, v)


constants = {{name: {const} for name in {names}}}
_, gradients, _, _ = differentiate(A[None], objective, constants)  # a stack of one matrix, as svdgrad runs it
{reading}
error = np.linalg.norm(g - REFERENCE)
print("{backend} gradient:", g, "reference gradient:", REFERENCE, sep="\\n")
print("svdgrad said:", SVDGRAD_SAID)
non_finite = np.sum(~np.isfinite(g))
print(f"this run: error {{error:.2e}} from the reference gradient; {{non_finite}} non-finite entries")
'''


def _check_grammar(tree: ast.AST) -> None:
    """Refuse anything but the loss grammar, and any attribute but ``ops.<op>`` called."""
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if not isinstance(node, GRAMMAR):
            raise ValueError(f"{type(node).__name__} is outside the loss grammar: {ast.unparse(node)}")
        if isinstance(node, ast.Call) and not isinstance(node.func, ast.Attribute):
            raise ValueError(f"only ops.<op>(...) may be called: {ast.unparse(node)}")
        if isinstance(node, ast.Attribute) and (
            id(node) not in called or not isinstance(node.value, ast.Name) or node.value.id != "ops"
        ):
            raise ValueError(f"only ops.<op>(...) may be called: {ast.unparse(node)}")


class _Fill(ast.NodeTransformer):
    """A template with its placeholders replaced; a keyword whose placeholder is not given goes."""

    def __init__(self, operands: dict[str, ast.expr]) -> None:
        self.operands = operands
        self.used: set[str] = set()

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.operands:
            self.used.add(node.id)
            return self.operands[node.id]
        if node.id in (*OPERANDS, "AXES"):
            raise ValueError(f"the template needs {node.id}, which the loss does not give")
        return node

    def visit_keyword(self, node: ast.keyword) -> ast.keyword | None:
        if isinstance(node.value, ast.Name) and node.value.id == "AXES" and "AXES" not in self.operands:
            return None
        self.generic_visit(node)
        return node


def fill_template(template: str, operands: dict[str, ast.expr]) -> ast.expr:
    """One SCRIPT_OPS template with its operands put in; an operand it has no place for is an error."""
    filler = _Fill(operands)
    node = filler.visit(ast.parse(template, mode="eval").body)
    if set(operands) - filler.used:
        raise ValueError(f"template {template!r} has no place for {sorted(set(operands) - filler.used)}")
    return node


class _ToFramework(ast.NodeTransformer):
    """Each ``ops.<op>(...)`` call, innermost first, as the framework's own call (its template)."""

    def __init__(self, templates: dict[str, str]) -> None:
        self.templates = templates

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if not isinstance(node.func, ast.Attribute):  # the grammar admits ops.<op>(...) calls only
            raise ValueError(f"not an ops call: {ast.unparse(node.func)}")
        op = node.func.attr
        if op not in self.templates:
            raise ValueError(f"no template for ops.{op}")
        if len(node.args) > len(OPERANDS) or any(k.arg != "axes" for k in node.keywords):
            raise ValueError(f"ops.{op} takes at most {len(OPERANDS)} operands and axes=")
        operands = dict(zip(OPERANDS, node.args, strict=False))
        for keyword in node.keywords:
            operands["AXES"] = keyword.value
        return fill_template(self.templates[op], operands)


def framework_code(expression: str, templates: dict[str, str]) -> str:
    """A loss expression over ``ops`` as the code of one framework (a backend module's SCRIPT_OPS)."""
    tree = ast.parse(expression, mode="eval")
    _check_grammar(tree)
    code = _ToFramework(templates).visit(tree).body
    if any(isinstance(node, ast.Name) and node.id == "ops" for node in ast.walk(code)):
        raise ValueError(f"ops used other than as ops.<op>(...): {expression}")
    return ast.unparse(code)


def _backend_source(module, plugin=None) -> str:
    """The source of the functions a built-in backend runs (its SCRIPT_FUNCTIONS), for a script; for
    a plug-in from a spec (its ``spec``), its SVD call replaces the framework's."""
    skipped = NOT_EMBEDDED | ({"thin_factors"} if plugin is not None else set())
    names = [name for name in module.SCRIPT_FUNCTIONS if name not in skipped]
    source = "\n\n".join(inspect.getsource(getattr(module, name)) for name in names)
    return source if plugin is None else source + "\n\n" + _plugin_source(module, plugin)


def _plugin_source(module, plugin) -> str:
    """The plug-in imported from where svdgrad found it, and svdgrad's reading of its outputs."""
    spec = plugin.spec
    transposed = fill_template(module.SCRIPT_OPS["t"], {"X": ast.Name("x", ast.Load())})
    adjoint = ast.unparse(fill_template(module.SCRIPT_OPS["conj"], {"X": transposed}))
    helpers = "\n\n".join(
        inspect.getsource(f)
        for f in (plugins.accepts, plugins.plugin_keywords, plugins.plugin_layout, plugins.plugin_factors)
    )
    return f"""# The plug-in svdgrad judged ({plugin.origin}), imported from where svdgrad found it:
sys.path.insert(0, {os.getcwd()!r})
from {spec.module} import {spec.attribute} as plugin_svd  # noqa: E402


{helpers}

def thin_factors(a, needs_vectors, full_matrices):
    \"\"\"The plug-in's SVD where svdgrad's {spec.contract} backend calls the framework's.\"\"\"
    layouts = {spec.layout!r}, {plugins.NATIVE_LAYOUT[spec.contract]!r}
    return plugin_factors(plugin_svd, a, needs_vectors, full_matrices, *layouts, lambda x: {adjoint})
"""


def _imports(source: str) -> str:
    """The standard-library imports of a script: Path, and what the embedded source uses."""
    used = {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
    lines = ["from pathlib import Path", *(line for name, line in IMPORTS.items() if name in used)]
    return "\n".join(sorted(lines, key=lambda line: (line.startswith("from"), line)))


def file_stem(report: MatrixReport, backend: str) -> str:
    """``<file name without suffix>[-<member>][-<index>...]-<backend>``, safe on every file system."""
    match = ARCHIVE_MEMBER.match(report.source)
    path, member = (match.group(1), report.source[match.end() :]) if match else (report.source, "")
    name = "stdin" if path == "-" else PurePath(path).stem
    matrix = "-".join(part for part in (name, member, *map(str, report.index)) if part)
    matrix = UNSAFE.sub("_", matrix).strip("._-")[:MAX_STEM] or "matrix"
    return f"{matrix}-{UNSAFE.sub('_', backend)}"


def claim(stem: str, taken: set[str]) -> str:
    """``stem``, or ``stem-2``, ``stem-3``, ... if taken (compared case-folded); recorded in ``taken``."""
    candidate, number = stem, 1
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{stem}-{number}"
    taken.add(candidate.casefold())
    return candidate


def _tuple(names: tuple[str, ...]) -> str:
    """A tuple of strings as Python source, in double quotes."""
    return f"({', '.join(json.dumps(name) for name in names)}{',' if len(names) == 1 else ''})"


def script_text(
    report: MatrixReport,
    result: BackendResult,
    loss: Loss,
    stem: str,
    version: str | None,
    full_matrices: bool,
    backend,
) -> str:
    """The stand-alone script of one finding (its data in ``<stem>.npz``); ``backend`` is a built-in
    framework backend or a plug-in from a spec of a framework (see ``scriptable``)."""
    matrix = report.matrix
    if matrix is None:
        raise ValueError(f"{report.label}: a reproducer needs the matrix (the report was kept without it)")
    plugin = backend if getattr(backend, "spec", None) is not None else None
    module = (plugin.framework if plugin is not None else backend).module
    source = _backend_source(module, plugin)
    names = tuple(loss.constants(min(matrix.shape)))
    # complex weights in A's dtype, real ones (w, which multiplies the real s) in its real part's
    value = ast.parse(
        "data[name].astype(A.dtype if data[name].dtype.kind == 'c' else A.real.dtype)", mode="eval"
    ).body
    return SCRIPT.format(
        docstring=docstring(report, result, loss.name, version, stem, needed_packages(backend)),
        imports=_imports(source),
        npz=f"{stem}.npz",
        said=json.dumps(said(result)),  # a JSON string is a Python string literal
        backend=result.name,
        backend_source=source,
        binding=module.SCRIPT_FRAMEWORK,
        loss=loss.name,
        expression=loss.expression,
        needs_vectors=loss.needs_vectors,
        full_matrices=full_matrices,
        unpack="".join(f'    {name} = constants["{name}"]\n' for name in names),
        code=framework_code(loss.expression, module.SCRIPT_OPS),
        const=ast.unparse(fill_template(module.SCRIPT_OPS["const"], {"X": value})),
        names=_tuple(names),
        reading=_reading(module, np.iscomplexobj(matrix)),
    )


def _reading(module, on_complex: bool) -> str:
    """The line that reads the framework's gradient in svdgrad's convention (numerics/field.py)."""
    if not on_complex:
        return "g = np.asarray(gradients[0], dtype=np.float64)"
    if module.CONJUGATES_COMPLEX_GRADIENT:
        return (
            f"# {module.COMPLEX_GRADIENT};\n"
            "# svdgrad's convention is dL/dRe A + i dL/dIm A, so it conjugates:\n"
            "g = np.conj(np.asarray(gradients[0]))"
        )
    return f"g = np.asarray(gradients[0])  # {module.COMPLEX_GRADIENT}, svdgrad's convention"


def scriptable(backend) -> bool:
    """A built-in framework backend, or a plug-in from a spec that a framework differentiates (its
    ``spec`` and ``framework``): the python: contract has no framework code to script."""
    return hasattr(backend, "module") or getattr(backend, "framework", None) is not None


def _scriptable_backends(backends: dict | None) -> dict:
    """The run's backends (default: the built-in ones) that a stand-alone script can run, by name."""
    known = {**registry.BUILTIN, **(backends or {})}
    return {name: b for name, b in known.items() if scriptable(b)}


def _loss_of_run(loss_spec: str, report: MatrixReport, matrix: np.ndarray) -> Loss:
    """The run's loss, with the weights a loss of U and V drew for this matrix."""
    loss = parse_loss(loss_spec)
    if isinstance(loss, VectorLoss):
        return replace(loss, arrays=report.loss_weights, on_complex=np.iscomplexobj(matrix))
    return loss


def write_reproducers(
    report: MatrixReport,
    loss_spec: str,
    directory: Path,
    versions: dict[str, str | None],
    full_matrices: bool,
    taken: set[str] | None = None,
    backends: dict | None = None,
) -> list[Path]:
    """Write the .npz and .py of each finding of one matrix; return the scripts written.

    The report must still hold its arrays (the matrix and the reference gradient). ``taken``: the
    stems written so far in this run (updated), so that no script overwrites another. ``backends``: the
    run's backends by the name they are reported under (default: the built-in ones); a finding of a
    plug-in from a spec gets a script that imports it, one of the python: contract none.
    """
    runnable = _scriptable_backends(backends)
    findings = [b for b in report.backends if b.verdict in REPRODUCED and b.name in runnable]
    matrix, gradient = report.matrix, report.reference.gradient if report.reference is not None else None
    if not findings or matrix is None or gradient is None:
        return []
    taken = set() if taken is None else taken
    loss = _loss_of_run(loss_spec, report, matrix)
    directory.mkdir(parents=True, exist_ok=True)
    constants = loss.constants(min(matrix.shape))
    written = []
    for result in findings:
        stem = claim(file_stem(report, result.name), taken)
        arrays: dict[str, Any] = {"matrix": matrix, "reference_gradient": gradient}
        arrays.update(constants)
        np.savez(directory / f"{stem}.npz", **arrays)
        script = directory / f"{stem}.py"
        version = versions.get(result.name)
        text = script_text(report, result, loss, stem, version, full_matrices, runnable[result.name])
        script.write_text(text, encoding="utf-8")
        written.append(script)
    return written
