"""Parse delimited or whitespace-separated numeric text into a 2-D float64 array.

Accepted, because a user would mean it: a UTF-8 byte-order mark, CRLF line ends, blank lines, ``#``
comment lines and trailing ``# ...`` comments, one header row of non-numeric names, quoted numbers
(in CSV/TSV). Everything else is refused with the row and column of the first bad cell; rows are
counted as lines of the file, 1-based, so an editor's line number finds them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

import numpy as np

from svdgrad_cli.errors import InputError

DELIMITERS = {".csv": ",", ".tsv": "\t"}


def _cells(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return [c.strip() for c in next(csv.reader([line], delimiter=delimiter))]


def _guess_delimiter(line: str) -> str | None:
    for delimiter in (",", "\t", ";"):
        if delimiter in line:
            return delimiter
    return None


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _content_lines(lines: Iterable[str], source: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of lines that carry data, comments and blanks removed."""
    try:
        for number, raw in enumerate(lines, start=1):
            if "\x00" in raw:
                raise InputError(source, f"binary data on line {number}: not a text matrix")
            text = raw.split("#", 1)[0].strip()
            if text:
                yield number, text
    except UnicodeDecodeError as exc:
        raise InputError(source, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def parse_text(
    stream: io.BufferedIOBase, source: str, delimiter: str | None, max_elements: int, auto: bool
) -> np.ndarray:
    """Read a whole text matrix from a binary stream; ``auto`` guesses the delimiter."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline=None)
    rows: list[list[float]] = []
    width = None
    header_seen = False
    for number, line in _content_lines(text, source):
        if auto and width is None:
            delimiter = _guess_delimiter(line)
        cells = _cells(line, delimiter)
        values = [_number(c) for c in cells]
        if not rows and not header_seen and all(v is None for v in values):
            header_seen = True  # one header row of names
            continue
        for column, (cell, value) in enumerate(zip(cells, values, strict=True), start=1):
            if value is None:
                shown = cell if len(cell) <= 20 else cell[:17] + "..."
                raise InputError(source, f"row {number}, column {column}: cannot read {shown!r} as a number")
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise InputError(source, f"row {number} has {len(values)} values but earlier rows have {width}")
        if (len(rows) + 1) * width > max_elements:
            raise InputError(
                source,
                f"more than {max_elements:,} values; raise --max-elements to check it anyway",
            )
        rows.append(values)
    if not rows:
        raise InputError(source, "no numbers found (the file is empty or holds only comments)")
    return np.array(rows, dtype=np.float64)
