"""Text exports a user has: pandas' to_csv (an index column), a trailing delimiter on every line and
MATLAB/Octave ``%`` comments are read as the matrix they hold; near misses still name row and column."""

from __future__ import annotations

import io

import numpy as np
import pytest
from helpers import load_cases
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from svdgrad_cli.errors import InputError
from svdgrad_cli.inputs.loading import DEFAULT_MAX_ELEMENTS
from svdgrad_cli.inputs.text import parse_text
from svdgrad_cli.model import MatrixCase

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
# Exactly what pandas writes for pd.DataFrame(np.eye(3)).to_csv() (checked against pandas 3.1).
PANDAS_EYE3 = ",0,1,2\n0,1.0,0.0,0.0\n1,0.0,1.0,0.0\n2,0.0,0.0,1.0\n"
TABLE = np.array([[1.0, 2.5, -3.0], [4e-3, 0.0, 6.25]])


def parse(content: str, delimiter: str | None = ",", max_elements: int = DEFAULT_MAX_ELEMENTS) -> np.ndarray:
    return parse_text(io.BytesIO(content.encode()), "t", delimiter, max_elements)


def problem(content: str, delimiter: str | None = ",", max_elements: int = DEFAULT_MAX_ELEMENTS) -> str:
    with pytest.raises(InputError) as caught:
        parse(content, delimiter, max_elements)
    assert caught.value.source == "t"
    return caught.value.problem


def load_one(tmp_path, content: str, name: str = "t.csv") -> MatrixCase:
    path = tmp_path / name
    path.write_text(content)
    (case,) = load_cases([str(path)])
    assert isinstance(case, MatrixCase), case
    return case


# ---- pandas' DataFrame.to_csv(): a header with an empty first cell, then an index column


def test_pandas_default_output_drops_the_index_column(tmp_path):
    case = load_one(tmp_path, PANDAS_EYE3)
    assert case.array.dtype == np.float64
    np.testing.assert_array_equal(case.array, np.eye(3))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("t.csv", ",x,y,z\n0,1,2.5,-3\n1,0.004,0,6.25\n"),  # named columns
        ("t.csv", "idx,0,1,2\n0,1,2.5,-3\n1,0.004,0,6.25\n"),  # named index, default labels
        ("t.csv", ";0;1;2\n0;1;2.5;-3\n1;0.004;0;6.25\n"),  # to_csv(sep=";")
        ("t.tsv", "\t0\t1\t2\n0\t1\t2.5\t-3\n1\t0.004\t0\t6.25\n"),  # to_csv(sep="\t")
        ("t.tsv", "\tx\ty\tz\n0\t1\t2.5\t-3\n1\t0.004\t0\t6.25\n"),
        ("t.txt", ",0,1,2\r\n0,1,2.5,-3\r\n1,0.004,0,6.25\r\n"),  # lineterminator="\r\n", any suffix
        ("t.csv", '"","0","1","2"\n"0","1","2.5","-3"\n"1","0.004","0","6.25"\n'),  # quoting=QUOTE_ALL
        ("t.csv", "# from pandas\n\n,0,1,2\n0,1,2.5,-3\n\n1,0.004,0,6.25\n"),
    ],
    ids=["names", "named-index", "semicolons", "tsv", "tsv-names", "crlf-txt", "quoted", "comments"],
)
def test_pandas_variants(tmp_path, name, content):
    np.testing.assert_array_equal(load_one(tmp_path, content, name).array, TABLE)


def test_real_pandas_output_roundtrips_exactly(tmp_path):
    pd = pytest.importorskip("pandas")
    values = np.random.default_rng(0).standard_normal((6, 4)) * 10.0 ** np.arange(-3, 3)[:, None]
    frames = [pd.DataFrame(values), pd.DataFrame(values, columns=["a", "b", "c", "d"])]
    frames.append(pd.DataFrame(values).rename_axis("idx"))
    for number, frame in enumerate(frames):
        for suffix, sep in ((".csv", ","), (".tsv", "\t"), (".txt", ";")):
            path = tmp_path / f"frame{number}{suffix}"
            frame.to_csv(path, sep=sep)
            (case,) = load_cases([str(path)])
            np.testing.assert_array_equal(case.array, values)
    assert pd.DataFrame(np.eye(3)).to_csv() == PANDAS_EYE3


@pytest.mark.parametrize(
    "content",
    [
        "0,1,2\n1,3,4\n2,5,6\n",  # no header: the first column is data
        "idx,a,b\n0,1,2\n1,3,4\n2,5,6\n",  # a plain header of names: so is the first column
        "a,b,c\n0,1,2\n1,3,4\n2,5,6\n",
    ],
)
def test_a_first_column_counting_from_zero_is_data_without_a_pandas_header(content):
    np.testing.assert_array_equal(parse(content), [[0, 1, 2], [1, 3, 4], [2, 5, 6]])


def test_an_index_column_alone_is_not_enough_either():
    """Without a pandas header nothing is dropped, even if the rows look like pandas' rows."""
    rows = PANDAS_EYE3.split("\n", 1)[1]
    np.testing.assert_array_equal(parse(rows), np.column_stack([np.arange(3.0), np.eye(3)]))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # the index does not count 0, 1, 2, ...: refused at the header, where the doubt starts
        (
            ",0,1\n0,1,2\n2,3,4\n",
            "row 1, column 1: empty cell (a pandas index column would count 0, 1, 2, ... "
            "but row 3 starts with '2', not 1)",
        ),
        (
            ",a,b\n1,1,2\n",
            "row 1, column 1: empty cell (a pandas index column would count 0, 1, 2, ... "
            "but row 2 starts with '1', not 0)",
        ),
        (
            ",a,b\n0.0,1,2\n",
            "row 1, column 1: empty cell (a pandas index column would count 0, 1, 2, ... "
            "but row 2 starts with '0.0', not 0)",
        ),
        (
            "idx,0,1\n0,1,2\nx,3,4\n",
            "row 1, column 1: cannot read 'idx' as a number (a pandas index column would count 0, 1, 2, "
            "... but row 3 starts with 'x', not 1)",
        ),
        # labels that are neither names nor pandas' default 0, 1, 2, ...: a row with an empty cell
        (",1,2\n0,1,2\n1,3,4\n", "row 1, column 1: empty cell"),
        (",a,2\n0,1,2\n", "row 1, column 1: empty cell"),
        (",a,\n0,1,2\n", "row 1, column 3: empty cell"),
        ("idx,a,1\n0,1,2\n", "row 1, column 1: cannot read 'idx' as a number"),
        # one value per label; columns are the file's, the index column included
        (
            ",0,1\n0,1\n",
            "row 2, column 3: a missing value; this row has 1 values, the header has labels for 2",
        ),
        (
            ",0,1\n0,1,2,3\n",
            "row 2, column 4: an extra value; this row has 3 values, the header has labels for 2",
        ),
        (
            ",0,1\n0,1,2\n1,3\n",
            "row 3, column 3: a missing value; this row has 1 values, the rows above have 2",
        ),
        (",0,1\n0,1,x\n", "row 2, column 3: cannot read 'x' as a number"),
        (",0,1\n0,,2\n", "row 2, column 2: empty cell"),
        (",0,1\n", "only a header row, no numbers"),
        (",0,1\n0,1,2\n,0,1\n", "row 1, column 1: empty cell (a pandas index column would count 0, 1, 2"),
    ],
)
def test_near_misses_of_pandas_output_name_row_and_column(content, expected):
    assert problem(content).startswith(expected)


def test_pandas_index_does_not_count_against_max_elements():
    np.testing.assert_array_equal(parse(PANDAS_EYE3, max_elements=9), np.eye(3))
    assert problem(PANDAS_EYE3, max_elements=8) == (
        "more than 8 values (at row 4); raise --max-elements to check it anyway"
    )


# ---- a trailing delimiter on every line


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("t.csv", "1,2.5,-3,\n0.004,0,6.25,\n"),
        ("t.csv", "1, 2.5, -3, \r\n0.004, 0, 6.25, \r\n"),
        ("t.csv", "x,y,z,\n1,2.5,-3,\n0.004,0,6.25,\n"),
        ("t.csv", "# exported\n1,2.5,-3, # first\n\n0.004,0,6.25,\n"),
        ("t.csv", "1;2.5;-3;\n0.004;0;6.25;\n"),
        ("t.txt", "1,2.5,-3,\n0.004,0,6.25,\n"),
        ("t.csv", '"1","2.5","-3",\n"0.004","0","6.25",\n'),
    ],
    ids=["plain", "spaces-crlf", "header", "comments", "semicolons", "txt", "quoted"],
)
def test_trailing_delimiter_on_every_line(tmp_path, name, content):
    np.testing.assert_array_equal(load_one(tmp_path, content, name).array, TABLE)


def test_trailing_delimiter_on_a_single_column():
    np.testing.assert_array_equal(parse("1,\n2,\n3,\n"), [[1], [2], [3]])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("1,2,3,\n", "row 1, column 4: empty cell"),  # one line is no evidence of a habit
        ("1,2,3,\n# the end\n", "row 1, column 4: empty cell"),
        ("1,2,3,\n4,5,6\n", "row 1, column 4: empty cell"),
        ("x,y,\n", "row 1, column 3: empty cell"),
        ("x,y,z\n1,2,3,\n4,5,6,\n", "row 2, column 4: empty cell"),  # the header has none
        ("1,2,3,\n4,5,6,\n7,8,9\n", "row 3, column 4: no trailing ',', though the lines above end with one"),
        ("1;2;\n3;4;\n5;6\n", "row 3, column 3: no trailing ';', though the lines above end with one"),
        ("1,2,3,\n4,,6,\n", "row 2, column 2: empty cell"),
        (",2,3,\n4,5,6,\n", "row 1, column 1: empty cell"),
        ("1,2,3,,\n4,5,6,,\n", "row 1, column 4: empty cell"),
        ("1,2,3,\n4,5,\n", "row 2, column 3: a missing value; this row has 2 values, the rows above have 3"),
        ("1,2,\n3,4,5,\n", "row 2, column 3: an extra value; this row has 3 values, the rows above have 2"),
        ("1,2,\n3,x,\n", "row 2, column 2: cannot read 'x' as a number"),
    ],
)
def test_empty_cells_other_than_a_trailing_one_are_refused(content, expected):
    assert problem(content) == expected


def test_a_stray_trailing_comma_is_still_reported_through_load_cases(tmp_path):
    path = tmp_path / "stray.csv"
    path.write_text("1,2,3\n4,5,6,\n")
    (error,) = load_cases([str(path)])
    assert str(error) == f"{path}: row 2, column 4: empty cell"


# ---- MATLAB/Octave % comment lines


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("t.txt", "% written by MATLAB\n1 2.5 -3\n% between\n0.004 0 6.25\n"),
        ("t.txt", "  %indented\n\t% tabbed\n1 2.5 -3\n0.004 0 6.25\n%% a cell title\n"),
        ("t.csv", "%x,y,z\n1,2.5,-3\n0.004,0,6.25\n"),
        ("t.csv", "% names next\nx,y,z\n% numbers next\n1,2.5,-3\n0.004,0,6.25\n"),
        ("t.csv", "# hash\n% percent\n1,2.5,-3 # trailing hash\n0.004,0,6.25\n"),
    ],
)
def test_percent_comment_lines(tmp_path, name, content):
    np.testing.assert_array_equal(load_one(tmp_path, content, name).array, TABLE)


def test_octave_save_text_format():
    content = (
        "% Created by Octave\n% name: A\n% type: matrix\n% rows: 2\n% columns: 3\n 1 2.5 -3\n 0.004 0 6.25\n"
    )
    np.testing.assert_array_equal(parse(content, None), TABLE)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("% only a comment\n%another\n", "only comments and blank lines, no numbers"),
        ("1 2 % not a whole line\n", "row 1, column 3: cannot read '%' as a number"),
        ("1,2 % trailing\n3,4\n", "row 1, column 2: cannot read '2 % trailing' as a number"),
        ("1,2\n3,%4\n", "row 2, column 2: cannot read '%4' as a number"),
    ],
)
def test_percent_is_only_a_whole_line_comment(content, expected):
    assert problem(content) == expected


# ---- properties


FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
MATRICES = st.integers(1, 5).flatmap(
    lambda n: st.lists(st.lists(FINITE, min_size=n, max_size=n), min_size=1, max_size=6)
)


@FUZZ
@given(matrix=MATRICES, sep=st.sampled_from([",", ";"]), named=st.booleans(), trailing=st.booleans())
def test_pandas_shaped_text_roundtrips(matrix, sep, named, trailing):
    labels = [f"c{i}" if named else str(i) for i in range(len(matrix[0]))]
    end = sep if trailing else ""
    lines = [sep.join(["", *labels]) + end]
    lines += [sep.join([str(i), *map(repr, row)]) + end for i, row in enumerate(matrix)]
    np.testing.assert_array_equal(parse("\n".join(lines), None), np.array(matrix))


@FUZZ
@given(matrix=MATRICES, sep=st.sampled_from([",", ";", "\t"]), trailing=st.booleans())
def test_a_counting_first_column_is_kept_without_a_pandas_header(matrix, sep, trailing):
    end = sep if trailing and len(matrix) > 1 else ""  # one line ending in a delimiter is refused
    lines = [sep.join([str(i), *map(repr, row)]) + end for i, row in enumerate(matrix)]
    expected = np.column_stack([np.arange(len(matrix), dtype=np.float64), np.array(matrix)])
    np.testing.assert_array_equal(parse("\n".join(lines), "\t" if sep == "\t" else None), expected)
