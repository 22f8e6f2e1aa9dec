"""Whole-process wall-clock time of the CLI and of peer counters, as ratios to a bare `import torch`.

Usage: python benchmarks/bench_cli.py [--repeats N] [--busy] [--threads N] [--baseline CHECKOUT]

Every command runs as its own process, interleaved round by round with the others, so that machine
load hits them alike; the table gives the median seconds and the ratio to the `import torch` floor
measured in the same run. `--busy` keeps every core busy with a spinning process while measuring (a
loaded machine). Peers build the same network (incprof's own builder, paper GoogLeNet) and count it
with fvcore, torch's FlopCounterMode, and ptflops / thop / torchinfo where installed.
One untimed round comes first, and the measured processes may write bytecode caches
(PYTHONDONTWRITEBYTECODE is dropped), so that every process starts as it would on a user's machine
after the first run. `--baseline CHECKOUT` also runs each incprof command from another checkout of
incprof (an older commit, e.g. from `git worktree add`), in the same rounds, so that a before/after
ratio comes from one run. Each run records the 1-minute load before it and its CPU time (user and
system, from the children's resource usage); the table gives the median CPU seconds beside the wall
seconds and the load range, and the machine is called idle only when no run started above a load
of 1. Numbers depend on the machine; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = ("import torch; from incprof.spec.registry import resolve; from incprof.nn.build import build; "
         "m = build(resolve('googlenet')).eval(); x = torch.zeros(1, 3, 224, 224); ")
PEERS = {
    "fvcore": "from fvcore.nn import FlopCountAnalysis; FlopCountAnalysis(m, x).total()",
    "FlopCounterMode": ("from torch.utils.flop_counter import FlopCounterMode\n"
                        "with FlopCounterMode(display=False) as f, torch.no_grad(): m(x)"),
    "ptflops": ("from ptflops import get_model_complexity_info; "
                "get_model_complexity_info(m, (3, 224, 224), print_per_layer_stat=False, "
                "as_strings=False)"),
    "thop": "from thop import profile; profile(m, inputs=(x,), verbose=False)",
    "torchinfo": "from torchinfo import summary; summary(m, input_size=(1, 3, 224, 224), verbose=0)",
}


def _spin() -> None:
    while True:
        pass


def incprof_commands() -> dict[str, list[str]]:
    """incprof's measured commands (arguments after ``python -m incprof``)."""
    return {
        "incprof --help": ["--help"],
        "incprof table --arch googlenet --no-verify": ["table", "--no-verify"],
        "incprof table --arch googlenet": ["table"],
        "incprof table --arch inception_v3": ["table", "--arch", "inception_v3"],
        "incprof report": ["report", "--out", tempfile.mkdtemp(prefix="incprof-bench-")],
        "incprof report --referee": ["report", "--referee", "--out",
                                     tempfile.mkdtemp(prefix="incprof-bench-")],
    }


def commands(baseline: str | None) -> dict[str, tuple[list[str], dict]]:
    """The measured processes, each with its extra environment: the floor, incprof's commands (and
    the baseline checkout's, when given), and each installed peer."""
    py = [sys.executable]
    out = {"python -c 'import torch' (floor)": (py + ["-c", "import torch"], {})}
    for label, args in incprof_commands().items():
        out[label] = (py + ["-m", "incprof", *args], {})
        if baseline:
            out[f"baseline: {label}"] = (py + ["-m", "incprof", *args], {"PYTHONPATH": baseline})
    for name, code in PEERS.items():
        module = {"FlopCounterMode": "torch"}.get(name, name)
        if importlib.util.find_spec(module) is not None:
            out[f"peer: {name} on googlenet"] = (py + ["-c", BUILD + "\n" + code], {})
        else:
            print(f"(peer {name} is not installed: skipped)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--busy", action="store_true", help="spin on every core while measuring")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS for the measured processes (default: torch's own)")
    parser.add_argument("--baseline", metavar="CHECKOUT", default=None,
                        help="also run incprof's commands from this checkout (PYTHONPATH)")
    args = parser.parse_args()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    todo = commands(args.baseline and os.path.abspath(args.baseline))
    spinners = [multiprocessing.Process(target=_spin, daemon=True)
                for _ in range(os.cpu_count() or 1)] if args.busy else []
    for spinner in spinners:
        spinner.start()
    samples: dict[str, list[float]] = {label: [] for label in todo}
    cpu: dict[str, list[float]] = {label: [] for label in todo}
    loads: list[float] = []
    try:
        for round_ in range(args.repeats + 1):
            for label, (argv, extra) in todo.items():
                load = os.getloadavg()[0]
                used = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(argv, check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**env, **extra})
                wall = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if round_:  # round 0 warms the caches
                    samples[label].append(wall)
                    cpu[label].append(after.ru_utime + after.ru_stime - used.ru_utime
                                      - used.ru_stime)
                    loads.append(load)
    finally:
        for spinner in spinners:
            spinner.terminate()
    floor = statistics.median(next(iter(samples.values())))
    state = ("busy (spinning on every core)" if args.busy else "idle" if max(loads) <= 1 else
             "loaded (other processes)")
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {args.repeats} rounds, "
          f"threads {args.threads or 'default'}, {state} machine, 1-minute load "
          f"{min(loads):.2f}-{max(loads):.2f} before the runs (median "
          f"{statistics.median(loads):.2f})")
    print("| command | median s | CPU s | x floor |\n|---|---:|---:|---:|")
    for label, values in samples.items():
        median = statistics.median(values)
        print(f"| {label} | {median:.3f} | {statistics.median(cpu[label]):.3f} | "
              f"{median / floor:.2f} |")


if __name__ == "__main__":
    main()
