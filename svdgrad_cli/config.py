"""Defaults for ``svdgrad check`` from ``[tool.svdgrad]`` in the nearest pyproject.toml.

The command line always wins. Keys are the long option names (options.py), with dashes or underscores:

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
from svdgrad_cli.options import Option, config_keys

# What a TOML value of each option type may be (bool is an int in Python: excluded below).
VALUE_TYPES = {"float": (int, float), "int": (int,), "count": (int,), "positive": (int,)}


def accepted_types(opt: Option) -> tuple[type, ...]:
    if opt.kind == "multiple":
        return (list,)
    if opt.kind in ("flag", "switch"):
        return (bool,)
    return VALUE_TYPES.get(opt.type, (str,)) if isinstance(opt.type, str) else (str,)


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml in ``start`` or a parent directory."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _check_value(path: Path, raw_key: str, value, opt: Option):
    types = accepted_types(opt)
    if not isinstance(value, types) or (bool in types) != isinstance(value, bool):
        raise UsageError(f"{path}: [tool.svdgrad] {raw_key} = {value!r} has the wrong type")
    choices = opt.type if isinstance(opt.type, tuple) else None
    for item in value if isinstance(value, list) else [value]:
        if choices and item not in choices:
            raise UsageError(f"{path}: [tool.svdgrad] {raw_key}: {item!r} is not one of {', '.join(choices)}")
    return tuple(value) if isinstance(value, list) else value


def load_defaults(start: Path) -> tuple[dict, Path | None]:
    """(defaults by option field name, the file they came from); empty and None when the nearest
    pyproject.toml has no [tool.svdgrad] table, or there is none (reports say which applied)."""
    path = find_pyproject(start)
    if path is None:
        return {}, None
    try:
        with path.open("rb") as handle:
            table = tomllib.load(handle).get("tool", {}).get("svdgrad")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read [tool.svdgrad] ({exc})") from None
    if table is None:
        return {}, None
    keys = {key.replace("-", "_"): entry for key, entry in config_keys().items()}
    defaults = {}
    for raw_key, value in table.items():
        entry = keys.get(raw_key.replace("-", "_"))
        if entry is None:
            known = ", ".join(config_keys())
            raise UsageError(f"{path}: unknown key {raw_key!r} in [tool.svdgrad]; known: {known}")
        name, opt = entry
        defaults[name] = _check_value(path, raw_key, value, opt)
    only, also = defaults.get("fail_only_on", ()), defaults.get("fail_on", ())
    others = [verdict for verdict in (*only, *also) if verdict != "never"]
    if "never" in only and others:
        raise UsageError(f"{path}: [tool.svdgrad] fail-only-on 'never' contradicts {', '.join(others)}")
    return defaults, path
