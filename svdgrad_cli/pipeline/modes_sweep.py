"""``svdgrad sweep --mode jvp|hvp`` (issue 25): the family of pipeline/sweep.py, each point judged in the
mode (pipeline/modes_run.py's ModeCheck) along one seeded direction shared by every point, so that a
row of the sweep follows one path of one framework as the spectrum moves.
"""

from __future__ import annotations

from collections.abc import Iterator

from svdgrad_cli.mode_model import ModePoint
from svdgrad_cli.numerics.differentiated import Target
from svdgrad_cli.pipeline.modes import draw_directions
from svdgrad_cli.pipeline.modes_run import ModeCheck
from svdgrad_cli.sweep_model import Family


def sweep_check(family: Family, target: Target, settings) -> ModeCheck:
    """The check of every point: ``settings``' loss, backends, seed, zero tolerance and timeout, and
    one seeded direction of the family's shape."""
    direction = draw_directions(family.shape, settings.seed, count=1)
    return ModeCheck.resolve(
        target,
        settings.loss,
        settings.backends,
        settings.seed,
        settings.zero_tol,
        direction,
        settings.timeout,
    )


def iter_mode_points(family: Family, check: ModeCheck) -> Iterator[ModePoint]:
    """Every member of ``family`` judged by ``check``, lazily (the run loop stops between points)."""
    for member in family.members:
        label = family.label(member)
        yield ModePoint(label, member.requested, check.judge(family.stored(member), label))
