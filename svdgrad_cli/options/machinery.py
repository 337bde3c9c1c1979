"""The option machinery: a dataclass field declared as a command-line option, and how to list them.

Each option is a dataclass field whose metadata (an :class:`Option`) carries its flags, help, kind and
whether ``[tool.svdgrad]`` and the JSON ``settings`` know it: cli.py builds the click commands from
them, config.py the pyproject keys, render/json_format.py the settings block.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# (owning class, field, option): one declared option, as cli.py and config.py read them.
DeclaredOption = tuple[type, dataclasses.Field[Any], "Option"]


@dataclass(frozen=True)
class Option:
    """How one field is set from the command line and from ``[tool.svdgrad]``, and how it is echoed.

    ``kind``: ``value`` (one value of ``type``), ``multiple`` (repeatable, a tuple), ``flag``
    (boolean, off by default) or ``switch`` (``--x/--no-x``). ``type``: ``str``, ``float``, ``int``,
    ``count`` (int >= 0), ``positive`` (int >= 1), ``path``, ``directory``, or a tuple of choices.
    """

    flags: tuple[str, ...]
    help: str
    kind: str = "value"
    type: str | tuple[str, ...] = "str"
    config: bool = True  # a [tool.svdgrad] key
    json: bool = True  # echoed in the JSON ``settings``
    show_default: bool = False
    config_key: str | None = None  # when the key is not the long flag (``backends`` for ``--backend``)

    @property
    def long_flag(self) -> str:
        return next(f for f in self.flags if f.startswith("--")).split("/")[0]

    @property
    def key(self) -> str:
        """The ``[tool.svdgrad]`` key: the long flag without dashes, unless named otherwise."""
        return self.config_key or self.long_flag.removeprefix("--")


def option(default: Any, *flags: str, help: str, **details: Any) -> Any:
    """A dataclass field declared as a command-line option (see :class:`Option`)."""
    meta = {"option": Option(flags, help, **details)}
    if isinstance(default, (list, dict, set)):
        raise TypeError("option defaults must be immutable (use a tuple)")
    return dataclasses.field(default=default, metadata=meta)


def given_flags(names: tuple[str, ...], *values: Any) -> list[str]:
    """The flags of the fields ``names`` that ``values`` (Settings, RunOptions) give other than their
    defaults: what a run that cannot honour them refuses (--mode jvp|hvp, --decomposition eigh)."""
    return [
        f.metadata["option"].flags[0]
        for given in values
        for f in dataclasses.fields(given)
        if f.name in names and "option" in f.metadata and getattr(given, f.name) != f.default
    ]


def declared_options(cls: type) -> list[DeclaredOption]:
    """(cls, field, option) of every option field of one options class, in declaration order."""
    return [(cls, f, f.metadata["option"]) for f in dataclasses.fields(cls)]
