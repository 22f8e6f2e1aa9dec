"""Wall-clock time of the CLI against a bare `import torch`, median of repeated runs.

Usage: python benchmarks/bench_cli.py [--repeats N]
Numbers depend on the machine; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def time_command(argv: list[str], repeats: int) -> tuple[float, float, float]:
    """(median, min, max) seconds of running argv to completion."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    incprof = shutil.which("incprof") or sys.exec_prefix + "/bin/incprof"
    commands = {
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        "incprof --help": [incprof, "--help"],
        "incprof table --arch googlenet --no-verify": [incprof, "table", "--arch", "googlenet",
                                                       "--no-verify"],
        "incprof table --arch googlenet": [incprof, "table", "--arch", "googlenet"],
        "incprof table --arch inception_v3": [incprof, "table", "--arch", "inception_v3"],
        "incprof report (all counting reports)": [incprof, "report", "--out",
                                                  tempfile.mkdtemp(prefix="incprof-bench-")],
    }
    print(f"{'command':<46} {'median s':>9} {'min s':>7} {'max s':>7}   ({args.repeats} runs)")
    print(f"on {os.cpu_count()} CPUs, {sys.version.split()[0]}")
    for label, argv in commands.items():
        median, low, high = time_command(argv, args.repeats)
        print(f"{label:<46} {median:>9.3f} {low:>7.3f} {high:>7.3f}")


if __name__ == "__main__":
    main()
