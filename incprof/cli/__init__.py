"""The typer app and nothing else: commands, their options, where output goes, and how a run ends."""
