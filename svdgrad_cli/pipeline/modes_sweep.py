"""``svdgrad sweep --mode jvp|hvp`` (issue 25): the family of pipeline/sweep.py, each point judged in the
mode (pipeline/modes.py) along one seeded direction shared by every point, so that a row of the sweep
follows one path of one framework as the spectrum moves.

Hook for the seam of issue 23: cli.sweep calls ``sweep_modes`` when ``--mode`` is not ``vjp``.
"""

from __future__ import annotations

from dataclasses import dataclass

from svdgrad_cli.backends import registry
from svdgrad_cli.numerics.losses import parse_loss
from svdgrad_cli.numerics.spectrum import default_zero_tol
from svdgrad_cli.pipeline.modes import ModeReport, check_mode, draw_directions
from svdgrad_cli.pipeline.modes_run import check_mode_name
from svdgrad_cli.pipeline.sweep import Family, SweepSpec, build_family


@dataclass(frozen=True)
class ModeSweep:
    """A swept family and each point's report in one mode."""

    family: Family
    mode: str
    points: list[tuple[str, float, ModeReport]]  # (label, requested parameter, report)


def sweep_modes(spec: SweepSpec, settings, max_elements: int) -> ModeSweep:
    """Every point of the family ``spec`` describes, judged in ``settings.mode``."""
    mode = check_mode_name(settings.mode)
    family = build_family(spec, settings, max_elements)
    backends = [registry.load_backend(name) for name in registry.resolve_backends(settings.backends)]
    loss = parse_loss(settings.loss)
    directions = draw_directions(family.shape, settings.seed, count=1)
    points = []
    for member in family.members:
        matrix = family.stored(member)
        tol = (
            settings.zero_tol
            if settings.zero_tol is not None
            else default_zero_tol(matrix.shape, matrix.dtype)
        )
        report = check_mode(
            matrix, family.label(member), loss, backends, mode, matrix.dtype, tol, settings.seed, directions
        )
        x = float(member.exponent) if family.vary == "scale" else member.requested
        points.append((family.label(member), x, report))
    return ModeSweep(family, mode, points)
