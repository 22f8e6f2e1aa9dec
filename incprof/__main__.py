"""``python -m incprof``."""

from .cli.app import app

app()
