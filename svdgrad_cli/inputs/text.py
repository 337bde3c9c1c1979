"""Parse delimited or whitespace-separated numeric text into a 2-D float64 (or complex128) array.

Accepted, because a user would mean it: a UTF-8 byte-order mark; LF, CRLF or lone CR line ends; blank
lines; ``#`` comment lines and trailing ``# ...`` comments; whole-line ``%`` comments (MATLAB, Octave;
a ``%`` after a number is refused); one header row in which no cell is a number (column names); numbers
in double or single quotes; Python complex literals (``1+2j``, ``-3.5e-2j``, NumPy's ``savetxt`` form
``(1+2j)``), which make the whole matrix complex.

Also accepted, with evidence on more than one line so that a stray delimiter is not mistaken for it:

* A trailing delimiter on every line (``1,2,3,``): when the first line with content and the one after it
  both end with an empty cell, every line must, and that cell is dropped. One such line alone, or an
  empty cell anywhere else, is refused as an empty cell.
* pandas' ``DataFrame.to_csv()`` with its row index as the first column, which is then dropped: a
  header of an empty first cell and then column names or exactly ``0,1,2,...`` (pandas' default labels),
  or of a name (the index's) and then exactly ``0,1,2,...``; then rows whose first cell is exactly
  ``0``, ``1``, ``2``, ... in order, each with one value per label. A row whose index breaks that count
  is refused at the header's first cell. A plain header of names (``idx,a,b``) or no header at all means
  the first column is data, whatever it holds.

The delimiter is decided once, from the first line with content: tab if the file is a .tsv and the line
has one (a leading tab then starts an empty first cell only if that makes it a pandas header); else ``;``
if the line has one (a .csv that is really semicolon-separated, perhaps with decimal commas, which are
then refused); else ``,`` if it has one (also in a .txt); else whitespace (a .csv that is really
whitespace-separated).

Everything else is refused with the row and column of the first bad cell: non-numeric or empty cells,
ragged rows, decimal commas, a second header row, bytes that are not UTF-8 text, NUL bytes (binary data),
lines longer than MAX_LINE_BYTES, and more values than ``max_elements`` (checked while reading). Rows are
lines of the file, 1-based, so an editor's line number finds them; columns are 1-based cells of the
line, the dropped ones included.
"""

from __future__ import annotations

import codecs
import csv
from array import array
from collections.abc import Iterator
from typing import IO

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


def _lines(stream: IO[bytes], source: str) -> Iterator[tuple[int, str]]:
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


def _number(cell: str) -> float | complex | None:
    """The cell's value: a float, a complex number (a Python literal with a digit: 'j' alone is a
    name), or None."""
    try:
        return float(cell)
    except ValueError:
        pass
    if not any(ch.isdigit() for ch in cell):
        return None
    try:
        return complex(cell)
    except ValueError:
        return None


def _shown(cell: str) -> str:
    return repr(cell if len(cell) <= 20 else cell[:17] + "...")


def _cell_problem(cell: str) -> str:
    if not cell:
        return "empty cell"
    shown = _shown(cell)
    if _number(cell.replace(",", ".", 1)) is not None:
        return f"cannot read {shown} as a number (decimal commas are not supported; use '.')"
    return f"cannot read {shown} as a number"


def _is_names(cells: list[str]) -> bool:
    return all(_number(c) is None and _is_name(c) for c in cells)


def _is_index_header(cells: list[str]) -> bool:
    """pandas' ``to_csv`` header: an empty cell (or the index's name) above the index column, then the
    column labels: names, or exactly pandas' default ``0,1,2,...``."""
    first, labels = cells[0], cells[1:]
    if not labels:
        return False
    default = labels == [str(i) for i in range(len(labels))]
    if not first:
        return default or _is_names(labels)
    return default and _is_names([first])


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
        self.imaginary: array | None = None  # the imaginary parts, from the first complex value on
        # Every line ends with a delimiter: None until the first line with content says.
        self.trailing: bool | None = None
        # (row, column) of the first line's empty last cell, until the next line confirms it is trailing.
        self.unconfirmed: tuple[int, int] | None = None
        # (row, first cell) of a pandas header: the rows start with an index column to drop.
        self.index_header: tuple[int, str] | None = None

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

    def add(self, number: int, line: str, leading_tab: bool = False) -> None:
        """Read one line with content; ``leading_tab``: the line began with a tab before it was stripped."""
        cells = self._drop_trailing(number, self.cells(number, line))
        if self.rows == 0 and not self.header and self._is_header(number, cells, leading_tab):
            return
        offset = self._drop_index(number, cells)
        values: list[float | complex] = []
        for column, cell in enumerate(cells[offset:], start=1 + offset):
            value = _number(cell)
            if value is None:
                raise InputError(self.source, f"row {number}, column {column}: {_cell_problem(cell)}")
            values.append(value)
        self._check_width(number, len(values), offset)
        if (self.rows + 1) * self.width > self.max_elements:
            raise InputError(
                self.source,
                f"more than {self.max_elements:,} values (at row {number}); "
                "raise --max-elements to check it anyway",
            )
        self._extend(values)
        self.rows += 1

    def _extend(self, values: list[float | complex]) -> None:
        if self.imaginary is None and any(isinstance(v, complex) for v in values):
            self.imaginary = array("d", bytes(8 * len(self.values)))
        self.values.extend(v.real for v in values)
        if self.imaginary is not None:
            self.imaginary.extend(v.imag for v in values)

    def _drop_trailing(self, number: int, cells: list[str]) -> list[str]:
        """The cells without the empty last one that a trailing delimiter on every line makes."""
        ends_empty = self.delimiter is not None and len(cells) > 1 and not cells[-1]
        if self.trailing is None:
            self.trailing = ends_empty
            self.unconfirmed = (number, len(cells)) if ends_empty else None
        elif self.unconfirmed is not None:
            if not ends_empty:
                self._refuse_unconfirmed()
            self.unconfirmed = None
        elif self.trailing and not ends_empty:
            raise InputError(
                self.source,
                f"row {number}, column {len(cells) + 1}: no trailing {self.delimiter!r}, "
                "though the lines above end with one",
            )
        return cells[:-1] if self.trailing else cells

    def _refuse_unconfirmed(self) -> None:
        row, column = self.unconfirmed or (0, 0)
        raise InputError(self.source, f"row {row}, column {column}: empty cell")

    def _is_header(self, number: int, cells: list[str], leading_tab: bool) -> bool:
        """Whether this first row is a header: column names, or pandas' header of an index column."""
        if self.delimiter == "\t" and leading_tab and _is_index_header(["", *cells]):
            cells = ["", *cells]  # to_csv(sep=TAB): the header's empty first cell is a leading tab
            self.header = True
        elif _is_names(cells):
            self.header = True  # one header row of column names
        elif _is_index_header(cells):
            self.header = True
        if self.header and not _is_names(cells):
            self.index_header = (number, cells[0])
            self.width = len(cells) - 1
        return self.header

    def _drop_index(self, number: int, cells: list[str]) -> int:
        """How many cells start the row before its values: 1 for a pandas index column, else 0."""
        if self.index_header is None:
            return 0
        if cells[0] != str(self.rows):
            row, first = self.index_header
            raise InputError(
                self.source,
                f"row {row}, column 1: {_cell_problem(first)} (a pandas index column would count "
                f"0, 1, 2, ... but row {number} starts with {_shown(cells[0])}, not {self.rows})",
            )
        return 1

    def _check_width(self, number: int, count: int, offset: int) -> None:
        if self.rows == 0 and self.index_header is None:
            self.width = count
        elif count != self.width:
            column = min(count, self.width) + 1 + offset
            what = "an extra value" if count > self.width else "a missing value"
            above = "the rows above have" if self.rows else "the header has labels for"
            raise InputError(
                self.source,
                f"row {number}, column {column}: {what}; this row has {count} values, {above} {self.width}",
            )

    def result(self, any_lines: bool) -> np.ndarray:
        if self.unconfirmed is not None:
            self._refuse_unconfirmed()
        if self.rows == 0:
            if self.header:
                raise InputError(self.source, "only a header row, no numbers")
            what = "only comments and blank lines" if any_lines else "empty"
            raise InputError(self.source, f"{what}, no numbers")
        real = np.frombuffer(self.values, dtype=np.float64).reshape(self.rows, self.width)
        if self.imaginary is None:
            return real
        out = np.empty((self.rows, self.width), dtype=np.complex128)  # part by part: 1j * inf is nan + infj
        out.real, out.imag = real, np.frombuffer(self.imaginary, dtype=np.float64).reshape(real.shape)
        return out


def parse_text(stream: IO[bytes], source: str, delimiter: str | None, max_elements: int) -> np.ndarray:
    """Read a whole text matrix from a binary stream; ``delimiter`` is the one the file name promises."""
    table = _Table(source, delimiter, max_elements)
    any_lines = False
    for number, text in _lines(stream, source):
        any_lines = True
        content = text.split("#", 1)[0].strip()
        if content and not content.startswith("%"):  # '%': a MATLAB/Octave comment line
            table.add(number, content, text.startswith("\t"))
    return table.result(any_lines)
