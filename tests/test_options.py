"""Options are defined once (options.py); the CLI, the config keys, JSON settings and README follow.

Modelled on sqlite-utils' test_docs.py: each test fails when a place that should be derived drifts.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path

import pytest

from svdgrad_cli.cli import check as check_command
from svdgrad_cli.cli import cli
from svdgrad_cli.config import load_defaults
from svdgrad_cli.options import RunOptions, Settings, config_keys, json_settings, option_fields
from svdgrad_cli.render import FORMATS, renderer_class
from svdgrad_cli.render.base import Renderer

README = Path(__file__).parent.parent / "README.md"


def test_every_option_field_is_a_click_parameter_with_help():
    params = {p.name: p for p in check_command.params}
    for _, field, opt in option_fields():
        assert field.name in params, field.name
        assert opt.help, field.name
        assert set(opt.flags[0].split("/")) <= {*params[field.name].opts, *params[field.name].secondary_opts}


def test_the_click_command_has_no_option_that_options_py_does_not_define():
    names = {f.name for _, f, _ in option_fields()}
    assert {p.name for p in check_command.params} - names == {"paths"}


def test_every_command_has_help():
    for name, command in cli.commands.items():
        assert command.help, name


def test_readme_lists_exactly_the_config_keys():
    text = README.read_text()
    match = re.search(r"Keys: `([^`]*)`", text)
    assert match, "README has no 'Keys: `...`' line"
    assert match.group(1).split() == list(config_keys())


def test_every_config_key_is_accepted_from_pyproject(tmp_path):
    values = {"value": {"float": 1.5, "int": 3, "count": 0, "positive": 2, "str": "x", "path": "x"}}
    lines = ["[tool.svdgrad]"]
    for key, (_, opt) in config_keys().items():
        if opt.kind == "multiple":
            value = [opt.type[0]] if isinstance(opt.type, tuple) else ["autograd"]
        elif opt.kind in ("flag", "switch"):
            value = True
        elif isinstance(opt.type, tuple):
            value = opt.type[0]
        else:
            value = values["value"][opt.type]
        lines.append(f"{key} = {json.dumps(value)}")
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n")
    defaults, _ = load_defaults(tmp_path)
    assert set(defaults) == {name for name, _ in config_keys().values()}


def test_json_settings_echo_every_json_option_including_discovery():
    settings = json_settings(Settings(loss="polar"), RunOptions(globs=("*.npy",), recursive=False))
    expected = {f.name for _, f, o in option_fields() if o.json}
    assert set(settings) == expected
    assert {"globs", "excludes", "recursive", "loss", "fail_on"} <= expected
    assert settings["globs"] == ["*.npy"] and settings["recursive"] is False


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_has_a_renderer_with_that_name(name):
    cls = renderer_class(name)
    assert issubclass(cls, Renderer)
    assert cls.name == name


BUDGET_FORMULA = "eps * (||A||_2 ||DG||_2 + sqrt(max(m, n))"


def test_readme_help_and_budget_module_state_the_same_budget_formula():
    from svdgrad_cli.numerics import budget
    from svdgrad_cli.options import Settings

    help_text = next(f.metadata["option"].help for f in fields(Settings) if f.name == "budget_factor")
    for name, text in (("README", README.read_text()), ("budget.py", budget.__doc__), ("--help", help_text)):
        assert BUDGET_FORMULA in " ".join(text.split()), name


def test_every_section_the_code_cites_exists_in_docs_theory():
    theory = (README.parent / "docs" / "theory.md").read_text()
    sections = set(re.findall(r"^## (§\d+)", theory, re.MULTILINE))
    for path in (README.parent / "svdgrad_cli").rglob("*.py"):
        for cited in re.findall(r"docs/theory\.md (§\d+)", path.read_text()):
            assert cited in sections, f"{path.name} cites {cited}"
