"""``python -m incprof``."""

from .cli import app

app()
