"""The reports/ folder: every counting report, and the machine-dependent latency report."""
