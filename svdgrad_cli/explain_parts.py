"""Where a backward pass is wrong, in words: the error parts of numerics/error_parts.py as one sentence
(table, HTML, assert_gradients_ok), as a few words (the table's summary list) and one line per part (-v)."""

from __future__ import annotations

import re

from svdgrad_cli.numerics.error_parts import ErrorParts, Part, WorstPair
from svdgrad_cli.numerics.spectrum import span

LABELS = {
    "values": "on the diagonal of U^T ΔG V, the singular-value rule",
    "phases": "on the imaginary diagonal of U^T ΔG V, the complex rule's phase term",
    "tied": "inside tied clusters, off their diagonal",
    "coupling": "in the coupling of pairs inside the rank, U^T ΔG V off its diagonal",
    "left": "outside span(U): (I - UU^T) ΔG V, the term a thin rule drops when m > k",
    "right": "outside span(V): U^T ΔG (I - VV^T), the term a thin rule drops when n > k",
    "both": "outside both spans: (I - UU^T) ΔG (I - VV^T)",
    "free": "where the gradient set is free, measured as the distance to the set",
}
ALSO = 0.1  # a second part is named beside the first where it holds at least this share


def percent(share: float) -> str:
    """A share as a percentage that never rounds a part away or up to all: '99.8%', '<0.1%', '100%'."""
    if share >= 1.0:
        return "100%"
    if share > 0.999:
        return ">99.9%"
    return "<0.1%" if 0 < share < 0.001 else f"{100 * share:.3g}%"


def label(name: str, on_complex: bool) -> str:
    text = LABELS[name]
    return text.replace("^T", "^H") if on_complex else text


def _size(part: Part, parts: ErrorParts) -> str:
    relative = f", {part.norm / parts.reference_norm:.2g} ||G_ref||" if parts.reference_norm else ""
    return f"{percent(part.share)} of ||ΔG||^2{relative}"


def pair_words(pair: WorstPair) -> str:
    """The worst pair, its gap and, where ΔG there is a multiple of the true coupling, what that says."""
    words = (
        f"worst pair {span(pair.first)} and {span(pair.second)} (gap {pair.gap:.2g}, {pair.relative_gap:.2g} "
        f"s_1; {percent(pair.share)} of ||ΔG||^2)"
    )
    if pair.lost is None:
        return words
    if abs(pair.lost - 1) < 1e-3:
        return words + ": the coupling is missing there, as where a cutoff zeroes 1/(s_i^2 - s_j^2)"
    if pair.broadening is not None:
        return words + (
            f": the coupling there falls short of the true one by a fraction {pair.lost:.2g}, as "
            f"Lorentzian broadening x/(x^2 + eps) of x = s_i^2 - s_j^2 with eps {pair.broadening:.2g} "
            "would make it (a bias eps/x^2)"
        )
    return words + f": ΔG there is {-pair.lost:.3g} times the true coupling"


def parts_sentence(parts: ErrorParts) -> str:
    """'ΔG lies in <part> (<share>, <size>)', a second part if large, the worst pair, and
    which blocks were not decomposed."""
    first = parts.dominant
    if first is None:
        return "ΔG is zero in every part."
    text = f"ΔG lies {label(first.name, parts.on_complex)}: {_size(first, parts)}"
    second = parts.parts[1] if len(parts.parts) > 1 and parts.parts[1].share >= ALSO else None
    if second is not None:
        text += f"; and {label(second.name, parts.on_complex)}: {_size(second, parts)}"
    if parts.worst_pair is not None and "coupling" in {first.name, second and second.name}:
        text += f"; {pair_words(parts.worst_pair)}"
    if parts.free:
        text += f"; the set is free on {parts.free}, so ΔG is not split there"
    if parts.truncation is not None:
        return f"{text}. {truncation_sentence(parts.truncation, parts.reference_norm)}"
    return text + "."


def truncation_sentence(cut, reference_norm: float) -> str:
    """ΔG split at the cut of a truncated SVD map (numerics/truncated.py), and the dropped term."""
    total = cut.total or 1.0
    k = cut.cut
    shares = (
        f"kept-kept block (i, j <= {k}) {percent((cut.kept / total) ** 2)}, kept-discarded "
        f"(truncation) block {percent((cut.truncation / total) ** 2)}, discarded and complement "
        f"{percent((cut.discarded**2 + cut.complement**2) / total**2)}"
    )
    text = f"Split at the cut k = {k}: {shares} of ||ΔG||^2"
    if cut.dropped is None:
        return text + "."
    relative = f", {cut.dropped / reference_norm:.2g} ||G_ref||" if reference_norm else ""
    return (
        f"{text}. The backward pass drops the truncation coupling (the terms in 1/(s_i^2 - s_j^2), "
        f"i <= {k} < j, of the full decomposition): ΔG is the dropped term, of size {cut.dropped:.3g}"
        f"{relative}."
    )


def parts_brief(parts: ErrorParts) -> str:
    """The largest part in a few words, the first clause of its label: 'ΔG 100% outside span(U)'."""
    first = parts.dominant
    if first is None:
        return "ΔG is zero"
    return f"ΔG {percent(first.share)} {re.split('[:,]', label(first.name, parts.on_complex))[0]}"


def parts_rows(parts: ErrorParts) -> list[tuple[str, str]]:
    """(share, words) per part, largest share first, then the worst pair and what was not split
    (with no share): what -v shows, as two columns."""
    rows = [(percent(p.share), label(p.name, parts.on_complex)) for p in parts.parts]
    if parts.worst_pair is not None:
        rows.append(("", pair_words(parts.worst_pair)))
    if parts.free:
        rows.append(("", f"the set is free on {parts.free}, so ΔG is not split there"))
    return rows
