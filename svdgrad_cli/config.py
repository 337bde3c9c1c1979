"""Defaults for ``svdgrad check`` from ``[tool.svdgrad]`` in the nearest pyproject.toml.

The command line always wins. Keys are the long option names, with dashes or underscores:

    [tool.svdgrad]
    loss = "sum"
    backends = ["autograd", "tensorflow"]
    fail-on = ["wrong", "non-finite", "non-unique"]
    zero-tol = 1e-6
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from svdgrad_cli.errors import UsageError

# key -> (check's parameter name, the Python types a value may have)
KEYS = {
    "loss": ("loss", (str,)),
    "backends": ("backends", (list,)),
    "dtype": ("dtype", (str,)),
    "format": ("output_format", (str,)),
    "zero_tol": ("zero_tol", (int, float)),
    "dup_tol": ("dup_tol", (int, float)),
    "budget_factor": ("budget_factor", (int, float)),
    "rtol": ("rtol", (int, float)),
    "atol": ("atol", (int, float)),
    "fail_on": ("fail_on", (list,)),
    "seed": ("seed", (int,)),
    "max_elements": ("max_elements", (int,)),
    "full_matrices": ("full_matrices", (bool,)),
    "recursive": ("recursive", (bool,)),
    "glob": ("globs", (list,)),
    "exclude": ("excludes", (list,)),
    "top": ("top", (int,)),
}


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml in ``start`` or a parent directory."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_defaults(start: Path) -> tuple[dict, Path | None]:
    """(defaults for check's parameters, the file they came from); empty when there is none."""
    path = find_pyproject(start)
    if path is None:
        return {}, None
    try:
        with path.open("rb") as handle:
            table = tomllib.load(handle).get("tool", {}).get("svdgrad", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read [tool.svdgrad] ({exc})") from None
    defaults = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key not in KEYS:
            known = ", ".join(k.replace("_", "-") for k in KEYS)
            raise UsageError(f"{path}: unknown key {raw_key!r} in [tool.svdgrad]; known: {known}")
        name, types = KEYS[key]
        if not isinstance(value, types) or (bool in types) != isinstance(value, bool):
            raise UsageError(f"{path}: [tool.svdgrad] {raw_key} = {value!r} has the wrong type")
        defaults[name] = value
    return defaults, path
