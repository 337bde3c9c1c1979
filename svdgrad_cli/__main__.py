"""Run svdgrad as ``python -m svdgrad_cli``."""

from svdgrad_cli.cli import main

main()
