"""`python -m emgaug` runs the CLI."""

from emgaug.cli import main

main()
