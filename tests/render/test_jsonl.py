"""JSON Lines: every line strict JSON on its own, results in input order, the summary last."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from svdgrad_cli.model import RunReport
from svdgrad_cli.render import json_format, jsonl
from svdgrad_cli.render.jsonl import render_jsonl_line, render_jsonl_summary


def _reject(constant: str):
    raise ValueError(f"non-standard JSON constant {constant}")


def strict(line: str) -> dict:
    assert "\n" not in line
    return json.loads(line, parse_constant=_reject)


def lines_of(run: RunReport, include_arrays: bool) -> list[str]:
    return [*(render_jsonl_line(r, include_arrays) for r in run.results), render_jsonl_summary(run)]


@pytest.mark.parametrize("include_arrays", [False, True])
def test_each_line_is_strict_json_and_the_summary_is_last(run, include_arrays):
    objects = [strict(line) for line in lines_of(run, include_arrays)]
    assert len(objects) == len(run.results) + 1
    assert [o["type"] for o in objects] == ["result"] * len(run.results) + ["summary"]
    assert [o["source"] for o in objects[:-1]] == [r.source for r in run.results]
    summary = objects[-1]
    assert summary["exit_code"] == 2
    assert summary["summary"]["matrices"] == 5
    assert summary["summary"]["errors"] == 1
    assert summary["summary"]["verdicts"]["wrong"] == 1


def test_result_line_is_the_json_document_entry(run):
    for report in run.results:
        line = strict(render_jsonl_line(report, True))
        assert line.pop("type") == "result"
        expected = json.loads(json.dumps(json_format.matrix_to_dict(report, True), allow_nan=False))
        assert line == expected
    assert jsonl.matrix_to_dict is json_format.matrix_to_dict


def test_non_finite_gradient_entries_become_null(run):
    line = strict(render_jsonl_line(run.results[3], include_arrays=True))
    assert line["gradients"]["tensorflow"] == [[None, 0.0], [0.0, None]]
    assert "gradients" not in strict(render_jsonl_line(run.results[3], include_arrays=False))


def test_a_nan_in_the_reference_check_is_written_as_null(run):
    report = run.results[0]
    fd = {"kind": "central", "max_error": float("nan"), "tolerance": float("inf"), "passed": False}
    broken = replace(report, reference=replace(report.reference, finite_difference=fd))
    line = json.loads(render_jsonl_line(broken, include_arrays=False), parse_constant=_reject)
    assert line["reference"]["finite_difference"] == {
        "kind": "central", "max_error": None, "tolerance": None, "passed": False
    }  # fmt: skip
