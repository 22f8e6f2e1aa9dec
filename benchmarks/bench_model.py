"""`incprof table --model torchvision:NAME` as a whole process against each peer counter's own
process counting the same model on the same input (issue 22's speed target: at most 1.0x the
fastest peer), each started fresh and run interleaved round by round so that machine load hits
all alike. Every peer process builds the model as a user would (torchvision, weights=None) and
counts it once.

Usage: python benchmarks/bench_model.py [--repeats N] [--model NAME ...] [--bert]
``--bert`` also times transformers' BERT (its default config) on 128 token ids: incprof counts
``--model hf:bert --seq-len 128``; each peer builds ``AutoModel.from_config`` and runs it on a
1x128 tensor of zero ids.
incprof runs with ``--timeout 600``: its default (15 s, import included) can end a run on a
loaded machine. Run it with an interpreter that has torchvision and the peers (the reference environment,
.venv-ref, with incprof and its CLI dependencies importable). Numbers depend on the machine and
its load; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

# Each peer's count of ``m`` on ``x``, as its documentation shows it.
PEERS = {
    "fvcore": "from fvcore.nn import FlopCountAnalysis\n"
              "a = FlopCountAnalysis(m, x); a.unsupported_ops_warnings(False); a.total()",
    "FlopCounterMode": "from torch.utils.flop_counter import FlopCounterMode\n"
                       "with torch.no_grad(), FlopCounterMode(display=False) as c: m(x)",
    "ptflops (aten)": "from ptflops import get_model_complexity_info\n"
                      "get_model_complexity_info(m, (3, 224, 224), backend='aten', "
                      "print_per_layer_stat=False)",
    "thop": "from thop import profile\nwith torch.no_grad(): profile(m, inputs=(x,), verbose=False)",
    "torchinfo": "from torchinfo import summary\nsummary(m, input_data=[x], verbose=0)",
    "torchscan": "import torchscan\ntorchscan.crawl_module(m, args=(x,))",
}


BERT_PEERS = {
    "fvcore": "from fvcore.nn import FlopCountAnalysis\n"
              "a = FlopCountAnalysis(m, (x,)); a.unsupported_ops_warnings(False); a.total()",
    "FlopCounterMode": PEERS["FlopCounterMode"],
    "ptflops (aten)": "from ptflops import get_model_complexity_info\n"
                      "get_model_complexity_info(m, (128,), backend='aten', print_per_layer_stat="
                      "False, input_constructor=lambda _: {'input_ids': x})",
    "thop": PEERS["thop"], "torchinfo": PEERS["torchinfo"], "torchscan": PEERS["torchscan"],
}


def bert_commands() -> dict[str, list[str]]:
    """The measured processes for BERT at sequence length 128."""
    py = [sys.executable]
    build = ("import torch; from transformers import AutoConfig, AutoModel\n"
             "m = AutoModel.from_config(AutoConfig.for_model('bert')).eval(); "
             "x = torch.zeros(1, 128, dtype=torch.long)\n")
    return {"incprof": py + ["-m", "incprof", "--timeout", "600", "table", "--model", "hf:bert",
                             "--seq-len", "128", "-f", "csv"],
            **{peer: py + ["-c", build + code] for peer, code in BERT_PEERS.items()}}


def commands(model: str) -> dict[str, list[str]]:
    """The measured processes for one torchvision model."""
    py = [sys.executable]
    build = (f"import torch, torchvision; m = torchvision.models.get_model({model!r}, "
             "weights=None).eval(); x = torch.zeros(1, 3, 224, 224)\n")
    return {"incprof": py + ["-m", "incprof", "--timeout", "600", "table", "--model",
                             f"torchvision:{model}", "-f", "csv"],
            **{peer: py + ["-c", build + code] for peer, code in PEERS.items()}}


def main() -> None:
    """Time every command ``--repeats`` times per model, interleaved, and print medians and the
    ratio of incprof to the fastest peer."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", nargs="*",
                        default=["resnet50", "vit_b_16", "swin_b", "efficientnet_b7"])
    parser.add_argument("--bert", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    print(f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={env['OMP_NUM_THREADS']}, load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} at the start")
    for model in args.model + ["bert"] * args.bert:
        cmds = bert_commands() if model == "bert" else commands(model)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.repeats):
            for name, cmd in cmds.items():
                start = time.perf_counter()
                subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                times[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(t) for name, t in times.items()}
        fastest = min((n for n in medians if n != "incprof"), key=medians.get)
        print(f"{model}: " + ", ".join(f"{name} {m:.2f} s" for name, m in medians.items()))
        print(f"{model}: incprof / fastest peer ({fastest}) = "
              f"{medians['incprof'] / medians[fastest]:.2f}x (median of {args.repeats} "
              f"interleaved runs)")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} at the end")


if __name__ == "__main__":
    main()
