"""Parse delimited or whitespace-separated numeric text into a 2-D float64 array.

Accepted, because a user would mean it: a UTF-8 byte-order mark; LF, CRLF or lone CR line ends; blank
lines; ``#`` comment lines and trailing ``# ...`` comments; one header row in which no cell is a number
(column names); numbers in double or single quotes.

The delimiter is decided once, from the first line with content: tab if the file is a .tsv and the line
has one; else ``;`` if the line has one (a .csv that is really semicolon-separated, perhaps with decimal
commas, which are then refused); else ``,`` if it has one (also in a .txt); else whitespace (a .csv that
is really whitespace-separated).

Everything else is refused with the row and column of the first bad cell: non-numeric or empty cells,
ragged rows, decimal commas, a second header row, bytes that are not UTF-8 text, NUL bytes (binary data),
lines longer than MAX_LINE_BYTES, and more values than ``max_elements`` (checked while reading). Rows are
lines of the file, 1-based, so an editor's line number finds them; columns are 1-based cells.
"""

from __future__ import annotations

import codecs
import csv
from array import array
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from svdgrad_cli.errors import InputError

DELIMITERS = {".csv": ",", ".tsv": "\t"}
# A text row of at most --max-elements numbers fits easily; this bounds memory on binary junk.
MAX_LINE_BYTES = 2**24
QUOTES = "\"'"


def _decode(raw: bytes, number: int, source: str) -> str:
    if b"\x00" in raw:
        column = raw.index(b"\x00") + 1
        raise InputError(
            source, f"line {number}, byte {column}: a NUL byte, so binary data, not a text matrix"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            source, f"line {number}, byte {exc.start + 1}: 0x{raw[exc.start]:02x} is not UTF-8 text"
        ) from None


def _lines(stream: BinaryIO, source: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line: BOM dropped; LF, CRLF and lone CR all end a line."""
    number = 0
    raw = stream.readline(MAX_LINE_BYTES + 1).removeprefix(codecs.BOM_UTF8)
    while raw:
        if len(raw) > MAX_LINE_BYTES:
            if b"\x00" in raw:
                _decode(raw, number + 1, source)  # binary data: say that, not "too long"
            raise InputError(source, f"line {number + 1} is longer than {MAX_LINE_BYTES:,} bytes")
        for piece in raw.removesuffix(b"\n").removesuffix(b"\r").split(b"\r"):
            number += 1
            yield number, _decode(piece, number, source)
        raw = stream.readline(MAX_LINE_BYTES + 1)


def _choose_delimiter(line: str, preferred: str | None) -> str | None:
    if preferred == "\t" and "\t" in line:
        return "\t"
    for delimiter in (";", ","):  # ';' first: a line with both is ';'-separated with decimal commas
        if delimiter in line:
            return delimiter
    return None


def _unquote(cell: str) -> str:
    if len(cell) >= 2 and cell[0] == cell[-1] and cell[0] in QUOTES:
        return cell[1:-1].strip()
    return cell


def _is_name(cell: str) -> bool:
    """A header cell names a column: it has a letter (so '1 2' under the wrong delimiter is no name)."""
    return any(ch.isalpha() for ch in cell)


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _cell_problem(cell: str) -> str:
    if not cell:
        return "empty cell"
    shown = repr(cell if len(cell) <= 20 else cell[:17] + "...")
    if _number(cell.replace(",", ".", 1)) is not None:
        return f"cannot read {shown} as a number (decimal commas are not supported; use '.')"
    return f"cannot read {shown} as a number"


class _Table:
    """Rows of numbers as they are read, kept flat (8 bytes a value) and checked as they come."""

    def __init__(self, source: str, preferred: str | None, max_elements: int):
        self.source = source
        self.preferred = preferred
        self.max_elements = max_elements
        self.delimiter: str | None = None
        self.width = 0
        self.rows = 0
        self.header = False
        self.values = array("d")

    def cells(self, number: int, line: str) -> list[str]:
        if self.rows == 0 and not self.header:
            self.delimiter = _choose_delimiter(line, self.preferred)
        if self.delimiter is None:
            return [_unquote(c) for c in line.split()]
        try:
            row = next(csv.reader([line], delimiter=self.delimiter))
        except csv.Error as exc:
            raise InputError(self.source, f"row {number}: {exc}") from None
        return [_unquote(c.strip()) for c in row]

    def add(self, number: int, line: str) -> None:
        cells = self.cells(number, line)
        values = [_number(c) for c in cells]
        names = all(v is None and _is_name(c) for c, v in zip(cells, values, strict=True))
        if self.rows == 0 and not self.header and names:
            self.header = True  # one header row of column names
            return
        for column, (cell, value) in enumerate(zip(cells, values, strict=True), start=1):
            if value is None:
                raise InputError(self.source, f"row {number}, column {column}: {_cell_problem(cell)}")
        self._check_width(number, len(values))
        if (self.rows + 1) * self.width > self.max_elements:
            raise InputError(
                self.source,
                f"more than {self.max_elements:,} values (at row {number}); "
                "raise --max-elements to check it anyway",
            )
        self.values.extend(values)
        self.rows += 1

    def _check_width(self, number: int, count: int) -> None:
        if self.rows == 0:
            self.width = count
        elif count != self.width:
            column = min(count, self.width) + 1
            what = "an extra value" if count > self.width else "a missing value"
            raise InputError(
                self.source,
                f"row {number}, column {column}: {what}; this row has {count} values, "
                f"the rows above have {self.width}",
            )

    def result(self, any_lines: bool) -> np.ndarray:
        if self.rows == 0:
            if self.header:
                raise InputError(self.source, "only a header row, no numbers")
            what = "only comments and blank lines" if any_lines else "empty"
            raise InputError(self.source, f"{what}, no numbers")
        return np.frombuffer(self.values, dtype=np.float64).reshape(self.rows, self.width)


def parse_text(stream: BinaryIO, source: str, delimiter: str | None, max_elements: int) -> np.ndarray:
    """Read a whole text matrix from a binary stream; ``delimiter`` is the one the file name promises."""
    table = _Table(source, delimiter, max_elements)
    any_lines = False
    for number, text in _lines(stream, source):
        any_lines = True
        content = text.split("#", 1)[0].strip()
        if content:
            table.add(number, content)
    return table.result(any_lines)
