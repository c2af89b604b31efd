"""One module per CLI command; emgaug/cli.py registers them on the Typer app."""
