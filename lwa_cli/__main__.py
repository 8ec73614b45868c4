"""`python -m lwa_cli` runs the `lwa` command."""

from lwa_cli.cli.main import run

run()
