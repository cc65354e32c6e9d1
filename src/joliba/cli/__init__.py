"""The ``joliba`` command (Typer), one module per noun."""
