"""`incprof table --model torchvision:resnet50` as a whole process against fvcore's own
`FlopCountAnalysis(model, x).total()` process on the same model (issue 14's speed target: at most
1.5x), each started fresh and run interleaved round by round so that machine load hits both alike.

Usage: python benchmarks/bench_model.py [--repeats N] [--model NAME]
Run it with an interpreter that has torchvision and fvcore (the reference environment, .venv-ref,
with incprof and its CLI dependencies importable). Numbers depend on the machine; they are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def commands(model: str) -> dict[str, list[str]]:
    """The measured processes."""
    py = [sys.executable]
    build = (f"import torch, torchvision; m = torchvision.models.get_model({model!r}, "
             "weights=None).eval(); x = torch.zeros(1, 3, 224, 224)\n")
    return {
        "python -c 'import torch' (floor)": py + ["-c", "import torch"],
        f"incprof table --model torchvision:{model}": py + [
            "-m", "incprof", "table", "--model", f"torchvision:{model}", "-f", "csv"],
        f"fvcore FlopCountAnalysis(...).total() on {model}": py + [
            "-c", build + "from fvcore.nn import FlopCountAnalysis\n"
            "a = FlopCountAnalysis(m, x); a.unsupported_ops_warnings(False); a.total()"],
    }


def main() -> None:
    """Time every command ``--repeats`` times, interleaved, and print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="resnet50")
    args = parser.parse_args()
    cmds = commands(args.model)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    for _ in range(args.repeats):
        for name, cmd in cmds.items():
            start = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        print(f"{median:7.2f} s  {name}  (runs: {', '.join(f'{t:.2f}' for t in times[name])})")
    ours, fvcore = list(medians.values())[1:]
    print(f"ratio incprof / fvcore: {ours / fvcore:.2f}x (median of {args.repeats} interleaved "
          f"runs, {os.cpu_count()} CPUs, OMP_NUM_THREADS={env['OMP_NUM_THREADS']})")


if __name__ == "__main__":
    main()
