"""The package's layers, enforced: who may import whom, click only in cli.py, frameworks only lazily,
and a ``--help`` that imports neither numpy nor the library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "svdgrad_cli"
FRAMEWORKS = {"tensorflow", "torch", "jax", "jaxlib", "autograd", "safetensors", "h5py", "matplotlib"}
# Layer -> the svdgrad_cli modules and packages it may import (itself always).
ALLOWED = {
    "numerics": {"errors"},
    "inputs": {"errors"},
    "backends": {"errors", "numerics"},
    "pipeline": {
        "errors",
        "numerics",
        "inputs",
        "backends",
        "model",
        "sweep_model",
        "scan_model",
        "mode_model",
        "eigh_model",
        "explain_parts",
        "options",
        "verdicts",
        "_version",
    },
    # render/ reads the model only: what it shows but the model does not hold is derived in the model
    # layer (explain_parts.py, report_views.py), never computed by render/ from numerics/ or pipeline/
    "render": {
        "errors",
        "model",
        "sweep_model",
        "scan_model",
        "mode_model",
        "eigh_model",
        "explain_parts",
        "report_views",
        "options",
        "verdicts",
        "_version",
    },
}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE), ast.parse(path.read_text(), str(path))


def imported(tree: ast.AST, top_level_only: bool = False) -> set[str]:
    """Dotted names of everything a module imports (at module level only, if asked)."""
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def own_parts(names: set[str]) -> set[str]:
    """The first component below svdgrad_cli of every internal import (``numerics``, ``model``, ...)."""
    return {name.split(".")[1] for name in names if name.startswith("svdgrad_cli.")}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layers_import_only_what_lies_below_them(layer):
    for relative, tree in modules():
        if relative.parts[0] != layer:
            continue
        forbidden = own_parts(imported(tree)) - ALLOWED[layer] - {layer}
        assert not forbidden, f"{relative} imports {sorted(forbidden)}"


def test_only_cli_imports_click():
    users = {str(r) for r, tree in modules() if any(n.split(".")[0] == "click" for n in imported(tree))}
    assert users == {"cli.py"}


def test_no_framework_is_imported_at_module_level():
    for relative, tree in modules():
        top = {name.split(".")[0] for name in imported(tree, top_level_only=True)}
        assert not top & FRAMEWORKS, f"{relative} imports {top & FRAMEWORKS} at start-up"


def test_help_imports_neither_numpy_nor_the_library():
    code = (
        "import sys\nfrom svdgrad_cli.cli import main\nsys.argv = ['svdgrad', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'rich', 'svdgrad_cli')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(eval(out.stdout.strip().splitlines()[-1]))
    assert not any(m.startswith(("numpy", "rich")) for m in loaded)
    assert loaded <= {
        "svdgrad_cli",
        "svdgrad_cli._version",
        "svdgrad_cli.cli",
        "svdgrad_cli.options",
        "svdgrad_cli.options.check",
        "svdgrad_cli.options.machinery",
        "svdgrad_cli.options.sweep",
        "svdgrad_cli.options.scan",  # scan's options, as options/ (no numpy)
        "svdgrad_cli.verdicts",
        "svdgrad_cli.render",
        "svdgrad_cli.inputs",  # an empty package
        "svdgrad_cli.inputs.limits",  # constants only
        "svdgrad_cli.inputs.kernels",  # the --reshape choices (math only)
        "svdgrad_cli.interrupts",  # SIGTERM handled as Ctrl-C from the start (signal, threading)
    }


def test_modules_stay_small():
    for path in PACKAGE.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, f"{path.name} is over 400 lines: two ideas?"
