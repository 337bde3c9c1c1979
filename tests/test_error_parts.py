"""Where a backward pass is wrong (issue 22, item 8): ΔG split in the singular bases of A.

The oracle is independent of numerics/error_parts.py: A = U diag(s) V^T is built from exactly known
orthogonal (unitary) factors, Hadamard matrices and signed permutations, and the error is placed as
ΔG = U E V^T with E chosen entry by entry, so every part's norm is read off E. The plug-ins of
faulty_rules.py each break one term of the rule and must be named through the command line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from svdgrad_cli import assert_gradients_ok, check, register_backend, unregister_backend
from svdgrad_cli.cli import cli
from svdgrad_cli.explain_parts import parts_sentence
from svdgrad_cli.json_read import matrix_from_dict
from svdgrad_cli.numerics.error_parts import decompose, free_blocks
from svdgrad_cli.numerics.spectrum import analyse_spectrum
from svdgrad_cli.render.json_format import matrix_to_dict

H2 = np.array([[1.0, 1.0], [1.0, -1.0]])
H4 = np.kron(H2, H2) / 2  # orthogonal, entries exactly +-1/2
P6 = np.eye(6)[[3, 0, 5, 1, 4, 2]] * np.array([1.0, -1.0, 1.0, 1.0, -1.0, 1.0])  # a signed permutation
V4 = H4[[2, 0, 3, 1]] * np.array([[1.0], [-1.0], [1.0], [1.0]])  # another orthogonal 4x4
PHASES = np.diag([1, 1j, -1, -1j])
HERE = Path(__file__).parent


def parts_of(u_full, s, v_full, error, reference=None, adjoint=np.transpose, **kwargs):
    """Decompose ΔG = U E V^T (E given) against a reference U diag(s > 0) V^T, thin factors passed."""
    m, n = error.shape
    k = len(s)
    spectrum = analyse_spectrum(np.asarray(s, dtype=float), (m, n), 1e-12)
    if reference is None:
        reference = u_full[:, :k] @ np.diag((np.asarray(s) > 0).astype(float)) @ adjoint(v_full[:, :k])
    delta = u_full @ error @ adjoint(v_full)
    found = decompose(reference + delta, reference, u_full[:, :k], v_full[:, :k], spectrum, **kwargs)
    return found, {p.name: p for p in found.parts}


def test_each_block_of_a_tall_matrix_is_attributed_to_its_part_with_its_size():
    e = np.zeros((6, 4))
    e[4, 1] = 0.3  # U_perp^T ΔG V: outside the span of U
    e[1, 1], e[3, 3] = 0.2, -0.1  # the diagonal: the singular-value rule
    e[0, 2], e[2, 0], e[1, 3] = 0.1, -0.05, 0.02  # couplings (1, 3) and (2, 4)
    found, parts = parts_of(P6, [4.0, 3.0, 2.0, 1.0], H4, e)
    total2 = np.sum(e**2)
    assert found.total == pytest.approx(np.sqrt(total2), rel=1e-12)
    assert parts["left"].norm == pytest.approx(0.3, rel=1e-12)
    assert parts["values"].norm == pytest.approx(np.hypot(0.2, 0.1), rel=1e-12)
    assert parts["coupling"].norm == pytest.approx(np.sqrt(0.1**2 + 0.05**2 + 0.02**2), rel=1e-12)
    assert parts["left"].share == pytest.approx(0.09 / total2, rel=1e-12)
    assert set(parts) == {"left", "values", "coupling"}  # full column rank: nothing outside span(V)
    assert found.dominant.name == "left" and found.rank == 4
    pair = found.worst_pair
    assert (pair.first, pair.second) == ((0,), (2,)) and pair.gap == pytest.approx(2.0)
    assert pair.relative_gap == pytest.approx(0.5) and pair.share == pytest.approx(0.0125 / total2)
    assert found.reference_norm == pytest.approx(2.0)  # ||U_4 V^T||_F


def test_wide_and_rank_deficient_matrices_have_their_outer_blocks():
    e = np.zeros((4, 6))
    e[2, 5] = 0.4  # U^T ΔG V_perp
    found, parts = parts_of(H4, [4.0, 3.0, 2.0, 1.0], P6, e)
    assert found.dominant.name == "right" and parts["right"].norm == pytest.approx(0.4)
    e = np.zeros((4, 4))
    e[3, 3], e[3, 0], e[1, 3] = 0.5, 0.2, 0.1  # s_4 = 0: its vectors belong to U_perp and V_perp
    found, parts = parts_of(H4, [4.0, 3.0, 2.0, 0.0], V4, e)
    assert found.rank == 3
    assert parts["both"].norm == pytest.approx(0.5) and parts["left"].norm == pytest.approx(0.2)
    assert parts["right"].norm == pytest.approx(0.1) and parts["values"].norm < 1e-15


def test_a_tied_cluster_is_split_only_into_what_its_arbitrary_basis_leaves_fixed():
    e = np.zeros((4, 4))
    e[1, 2], e[1, 1], e[2, 2] = 0.5, 0.3, 0.3  # inside the cluster s_2 = s_3
    e[0, 1] = 0.1  # coupling of s_1 with the cluster
    found, parts = parts_of(H4, [3.0, 2.0, 2.0, 1.0], V4, e)
    assert parts["tied"].norm == pytest.approx(0.5)
    assert parts["values"].norm == pytest.approx(0.3 * np.sqrt(2))
    assert parts["coupling"].norm == pytest.approx(0.1)
    assert (found.worst_pair.first, found.worst_pair.second) == ((0,), (1, 2))
    c, s_ = np.cos(0.7), np.sin(0.7)  # another SVD of the same A: (U_C Q, V_C Q)
    q = np.eye(4)
    q[1:3, 1:3] = [[c, -s_], [s_, c]]
    spectrum = analyse_spectrum(np.array([3.0, 2.0, 2.0, 1.0]), (4, 4), 1e-12)
    reference = H4 @ V4.T
    rotated = decompose(reference + H4 @ e @ V4.T, reference, H4 @ q, V4 @ q, spectrum)
    assert {p.name: p.norm for p in rotated.parts} == pytest.approx({p.name: p.norm for p in found.parts})


def test_complex_input_separates_the_phase_term_from_the_singular_value_rule():
    u, v = H4 @ PHASES, V4 @ PHASES.conj()
    e = np.zeros((4, 4), dtype=complex)
    e[0, 0], e[2, 2], e[0, 1] = 0.2j, 0.1, 0.1 + 0.1j
    found, parts = parts_of(u, [4.0, 3.0, 2.0, 1.0], v, e, adjoint=lambda x: x.conj().T)
    assert found.on_complex and parts["phases"].norm == pytest.approx(0.2)
    assert parts["values"].norm == pytest.approx(0.1)
    assert parts["coupling"].norm == pytest.approx(np.sqrt(0.02))


@pytest.mark.parametrize("rho", [0.25, 0.9, 1.0])
def test_a_coupling_scaled_down_as_broadening_does_recovers_its_eps(rho):
    s = np.array([4.0, 3.0, 2.0, 1.0])
    x_ref = np.diag(s * 0)
    x_ref[0, 1], x_ref[1, 0] = 1.0, -0.5  # the true coupling of (s_1, s_2)
    reference = H4 @ x_ref @ V4.T
    e = np.zeros((4, 4))
    e[0, 1], e[1, 0] = -rho * x_ref[0, 1], -rho * x_ref[1, 0]
    found, _ = parts_of(H4, s, V4, e, reference=reference)
    pair = found.worst_pair
    assert pair.lost == pytest.approx(rho)
    expected = None if rho == 1 else rho * (16.0 - 9.0) ** 2 / (1 - rho)
    assert pair.broadening == (None if expected is None else pytest.approx(expected))
    e[1, 0] = 0.3  # not a multiple of the true coupling: no claim about broadening
    found, _ = parts_of(H4, s, V4, e, reference=reference)
    assert found.worst_pair.lost is None and found.worst_pair.broadening is None


def test_where_the_gradient_is_a_set_its_free_blocks_are_not_decomposed():
    s = np.array([3.0, 2.0, 2.0, 1.0])
    spectrum = analyse_spectrum(s, (4, 4), 1e-12)
    free = free_blocks(spectrum, np.array([1.0, 1.0, 0.0, 0.0]))  # topk:2 splits the tie s_2 = s_3
    assert free == (((1, 2),), False)
    e = np.zeros((4, 4))
    e[1, 2], e[0, 3] = 0.5, 0.1  # 0.5 where members may differ, 0.1 where every member is 0
    found, parts = parts_of(H4, s, V4, e, distance=0.3, free=free)
    assert parts["coupling"].norm == pytest.approx(0.1) and "tied" not in parts
    assert parts["free"].norm == pytest.approx(np.sqrt(0.09 - 0.01)) and found.total == pytest.approx(0.3)
    assert "s_2, s_3" in found.free
    zeros = analyse_spectrum(np.array([3.0, 2.0, 0.0]), (3, 3), 1e-12)
    assert free_blocks(zeros, np.ones(3)) == ((), True) and free_blocks(zeros, None) == ((), False)


# Through the command line: autograd plug-ins with one fault each, and the built-in beside them.
TALL = P6[:, :4] @ np.diag([4.0, 3.0, 2.0, 1.0]) @ H4.T
NEAR = H4 @ np.diag([2, 1 + 1e-7, 1, 0.5]) @ V4.T  # s_2 - s_3 = 1e-7


@pytest.fixture
def saved(tmp_path, monkeypatch):
    monkeypatch.chdir(HERE)  # faulty_rules resolves from the current directory, as python -m

    def save(name, array):
        np.save(tmp_path / name, array)
        return str(tmp_path / name)

    return save


def _run_json(runner, path, loss, fault):
    args = ["check", path, "--loss", loss, "-b", "autograd", "-b", f"{fault}=autograd:faulty_rules:{fault}"]
    result = runner.invoke(cli, [*args, "-f", "json"])
    assert result.exit_code == 1, result.output
    backends = json.loads(result.stdout)["results"][0]["backends"]
    assert backends["autograd"]["verdict"] == "correct" and backends["autograd"]["error_parts"] is None
    return backends[fault]["error_parts"]


@pytest.mark.parametrize(
    ("matrix", "loss", "fault", "part"),
    [
        (TALL, "proj:2", "noproj", "left"),
        (TALL.T, "polar", "noproj", "right"),
        (TALL, "sum", "doubled", "values"),
        (NEAR, "proj:2", "broadened", "coupling"),
    ],
)
def test_each_faulty_rule_is_named_by_the_part_it_breaks(runner, saved, matrix, loss, fault, part):
    parts = _run_json(runner, saved("a.npy", matrix), loss, fault)
    assert parts["dominant"] == part and parts["parts"][part]["share"] > 0.999
    if fault == "doubled":  # ΔG = U V^T = G_ref: the whole gradient once more
        assert parts["total"] == pytest.approx(parts["reference_norm"], rel=1e-12)
    if fault == "broadened":  # the term of (s_2, s_3) shrinks by x^2 / (x^2 + eps), x = s_2^2 - s_3^2
        pair = parts["worst_pair"]
        assert (pair["first"], pair["second"]) == ([2], [3]) and pair["gap"] == pytest.approx(1e-7, rel=1e-6)
        assert pair["broadening"] == pytest.approx(1e-12, rel=1e-3)


def test_the_table_names_the_part_in_one_line_and_v_lists_every_part(runner, saved):
    path = saved("tall.npy", TALL)
    args = ["check", path, "--loss", "proj:2", "-b", "noproj=autograd:faulty_rules:noproj"]
    table = runner.invoke(cli, args, env={"COLUMNS": "80", "NO_COLOR": "1"}).stdout
    (line,) = [x for x in table.splitlines() if "ΔG lies" in x]
    assert "noproj: ΔG lies outside span(U)" in line and "(I - UU^T) ΔG V" in table
    assert "100% of ||ΔG||^2" in " ".join(table.split())
    verbose = runner.invoke(cli, [*args, "-v"], env={"COLUMNS": "80", "NO_COLOR": "1"}).stdout
    assert "share of ||ΔG||^2:" in verbose and "100%  outside span(U)" in verbose
    assert "on the diagonal of U^T ΔG V" in verbose  # every part, the negligible ones too
    html = runner.invoke(cli, [*args, "-f", "html"]).stdout
    assert "ΔG lies outside span(U)" in html


def test_error_parts_come_back_from_json_as_they_went(runner, saved):
    path = saved("near.npy", NEAR)
    spec = "broadened=autograd:faulty_rules:broadened"
    args = ["check", path, "--loss", "proj:2", "-b", spec, "-f", "json"]
    record = json.loads(runner.invoke(cli, args).stdout)["results"][0]
    back = matrix_from_dict(record)
    assert matrix_to_dict(back, False)["backends"] == record["backends"]
    assert back.backends[0].error_parts.worst_pair.first == (1,)
    said = parts_sentence(back.backends[0].error_parts)
    assert (
        "worst pair s_2 and s_3 (gap 1e-07" in said
        and "falls short of the true one by a fraction 0.96" in said
    )
    assert "with eps 1e-12 would make it" in said


def test_assert_gradients_ok_says_where_and_advises_the_python_call(monkeypatch):
    monkeypatch.chdir(HERE)
    with pytest.raises(AssertionError) as raised:
        assert_gradients_ok("autograd:faulty_rules:noproj", TALL, loss="polar", seed=3)
    message = str(raised.value)
    assert "ΔG lies outside span(U)" in message
    call = "svdgrad_cli.check(matrices, loss='polar', backends=['autograd:faulty_rules:noproj'], seed=3)"
    assert call in message
    assert "--" not in message.replace("100%", "")  # no command-line flag


def test_a_complex_gradient_without_the_phase_term_is_named_through_the_pipeline():
    """A registered backend that returns G_ref + i t U V^H for the nuclear norm (G_ref = U V^H) of a
    complex matrix: its error is all on the imaginary diagonal, of size t ||G_ref||."""
    a = (H4 @ PHASES) @ np.diag([4.0, 3.0, 2.0, 1.0]) @ (V4 @ PHASES.conj()).conj().T

    def phase_off(stack, loss):
        u, s, vh = np.linalg.svd(stack, full_matrices=False)
        return s, (1 + 0.01j) * (u @ vh)

    register_backend("phase_off", phase_off)
    try:
        (result,) = check(a, loss="sum", backends=["phase_off"]).results[0].backends
    finally:
        unregister_backend("phase_off")
    parts = result.error_parts
    assert result.verdict == "wrong" and parts.on_complex and parts.dominant.name == "phases"
    assert parts.dominant.norm == pytest.approx(0.01 * parts.reference_norm, rel=1e-9)
    assert "on the imaginary diagonal of U^H ΔG V" in parts_sentence(parts)


def test_the_python_api_says_each_piece_of_command_line_advice_as_the_call_takes_it():
    from svdgrad_cli.pipeline.explain import FIX_YOUR_OWN, REPORT_UPSTREAM, for_python

    call = "svdgrad_cli.check(matrices, loss='sum', backends=['x'])"
    told = for_python(
        f"A. {FIX_YOUR_OWN} B. {REPORT_UPSTREAM} compute in float64 (--dtype float64) to get an answer "
        "worth comparing. The minimum-norm member (norm 1) is printed by --show-reference.",
        call,
    )
    assert "--" not in told and told.count(call) == 2
    assert "(dtype='float64')" in told and "is the report's .reference.gradient." in told


def test_past_the_panels_the_summary_still_says_where_each_matrix_is_wrong(runner, saved):
    """Eleven matrices get no panels: the worst-matrices list names the part, with or without -v."""
    path = saved("tall.npy", np.stack([TALL] * 11))
    args = ["check", path, "--loss", "proj:2", "-b", "noproj=autograd:faulty_rules:noproj"]
    table = runner.invoke(cli, args, env={"COLUMNS": "80", "NO_COLOR": "1"}).stdout
    assert "ΔG lies" not in table  # no panel
    summary = [x for x in table.splitlines() if "wrong: noproj" in x]
    assert len(summary) == 10 and all("(ΔG 100% outside span(U))" in x for x in summary), table


def test_v_folds_each_part_under_its_own_words(runner, saved):
    """A part's label longer than the line continues under the label, not under the percentage."""
    path = saved("tall.npy", TALL)
    args = ["check", path, "--loss", "proj:2", "-b", "noproj=autograd:faulty_rules:noproj", "-v"]
    lines = runner.invoke(cli, args, env={"COLUMNS": "80", "NO_COLOR": "1"}).stdout.splitlines()
    (first,) = [i for i, x in enumerate(lines) if "100%  outside span(U)" in x]
    label_column = lines[first].index("outside")
    continued = lines[first + 1].strip("│ ")
    assert "m > k" in continued and lines[first + 1].index(continued) == label_column


def test_the_markdown_summary_says_where_too(runner, saved):
    """$GITHUB_STEP_SUMMARY is where CI users read a run: the backends cell names the part."""
    path = saved("tall.npy", TALL)
    args = ["check", path, "--loss", "proj:2", "-b", "noproj=autograd:faulty_rules:noproj", "-f", "markdown"]
    markdown = runner.invoke(cli, args).stdout
    assert "| noproj: wrong (ΔG 100% outside span(U)) |" in markdown, markdown


def test_junit_and_github_say_where_too(runner, saved):
    """The CI formats carry the part in the failure message and in the annotation."""
    path = saved("tall.npy", TALL)
    args = ["check", path, "--loss", "proj:2", "-b", "noproj=autograd:faulty_rules:noproj"]
    junit = runner.invoke(cli, [*args, "-f", "junit"]).stdout
    assert 'failure message="noproj: wrong, ' in junit
    assert "x its error budget, ΔG 100% outside span(U)" in junit
    (annotation,) = runner.invoke(cli, [*args, "-f", "github"]).stdout.splitlines()
    assert annotation.startswith("::error ") and "noproj: ΔG lies outside span(U)" in annotation
