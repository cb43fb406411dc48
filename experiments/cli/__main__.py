"""`python -m nbasim.experiments.cli`: the `nbasim` command line."""

from nbasim.experiments.cli.app import main

main()
