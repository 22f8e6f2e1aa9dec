"""Presentation only: findings as Grids fitted to the terminal, markdown, CSV, JSON and figures;
user text made literal for each format."""
