"""The colour of each verdict, once, for every picture: the terminal table and sweep picture, the HTML
badges and the plots.

Okabe and Ito's palette, which stays distinguishable under the common colour-vision deficiencies; every
picture also tells the verdicts apart without colour (words, letters, hatches, markers). A backend's
verdict takes the colour of the matrix verdict it leads to (correct as agree, valid as non-unique,
failed as error).
"""

from __future__ import annotations

from svdgrad_cli.verdicts import BackendVerdict, MatrixVerdict

# matrix verdict -> (colour, the text colour that reads on it)
MATRIX_COLOURS = {
    MatrixVerdict.AGREE: ("#009E73", "#ffffff"),
    MatrixVerdict.NON_UNIQUE: ("#56B4E9", "#000000"),
    MatrixVerdict.UNDEFINED: ("#999999", "#000000"),
    MatrixVerdict.INDETERMINATE: ("#E69F00", "#000000"),
    MatrixVerdict.UNSUPPORTED: ("#777777", "#ffffff"),
    MatrixVerdict.INACCURATE: ("#CC79A7", "#000000"),
    MatrixVerdict.ERROR: ("#444444", "#ffffff"),
    MatrixVerdict.NON_FINITE: ("#7F0000", "#ffffff"),
    MatrixVerdict.WRONG: ("#D55E00", "#ffffff"),
}
AS_MATRIX = {
    BackendVerdict.CORRECT: MatrixVerdict.AGREE,
    BackendVerdict.VALID: MatrixVerdict.NON_UNIQUE,
    BackendVerdict.INDETERMINATE: MatrixVerdict.INDETERMINATE,
    BackendVerdict.UNDEFINED: MatrixVerdict.UNDEFINED,
    BackendVerdict.INACCURATE: MatrixVerdict.INACCURATE,
    BackendVerdict.WRONG: MatrixVerdict.WRONG,
    BackendVerdict.NON_FINITE: MatrixVerdict.NON_FINITE,
    BackendVerdict.UNSUPPORTED: MatrixVerdict.UNSUPPORTED,
    BackendVerdict.FAILED: MatrixVerdict.ERROR,
}
UNKNOWN = ("#999999", "#000000")


def colours(verdict) -> tuple[str, str]:
    """(colour, text colour) of a matrix or backend verdict (or its string)."""
    for kind in (MatrixVerdict, BackendVerdict):
        try:
            verdict = kind(str(verdict))
        except ValueError:
            continue
        return MATRIX_COLOURS.get(AS_MATRIX.get(verdict, verdict), UNKNOWN)
    return UNKNOWN


def colour(verdict) -> str:
    return colours(verdict)[0]
