"""The peer counters, each run on a built model and a zero input (torch imported inside).

Each runner returns a ``Reading``: the tool's reported total, its parameter total where it gives
one, and its own breakdown of the total by op kind where it gives one (keys as in
``incprof.count.inventory.Op.kind``). ``installed()`` says which peers can be imported; a peer that cannot
is reported as not installed, never dropped.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from dataclasses import dataclass, field

from ..capture.inventory import MODULE_KINDS
from ..count.aten import kind

# The module each peer needs, by the referee's name for it.
MODULES = {"fvcore": "fvcore", "flop_counter": "torch.utils.flop_counter",
           "ptflops_pytorch": "ptflops", "ptflops_aten": "ptflops", "thop": "thop",
           "torchinfo": "torchinfo", "torchscan": "torchscan"}
PEERS = tuple(MODULES)
# The peers whose readings on meta tensors (no weights initialised, no arithmetic) equal their
# readings on real ones (tests/test_referee.py checks it, and every referee test predicts their
# totals to the unit). fvcore's torch.jit trace fails on meta tensors; ptflops' pytorch backend
# patches torch.mm and so also counts the mm inside torch's Python meta kernel for linear layers.
META = frozenset({"flop_counter", "ptflops_aten", "thop", "torchinfo"})

# fvcore's operator names are aten ops' (kinds: incprof.count.aten), but for two: its conv handle
# reports "conv", and its einsum is the whole torch.einsum call (incprof.capture.inventory.JIT_CALLS).
_FVCORE_KINDS = {"conv": "conv", "einsum": "torch.einsum"}

# One line per peer: how it runs and what it counts, for the docs and the report.
DESCRIPTIONS = {
    "fvcore": "FlopCountAnalysis(model, x).total(): traces with torch.jit; conv and linear MACs "
              "without bias, BatchNorm 2 per element (eval, affine), adaptive average pooling "
              "1 per input element; max/avg pooling, ReLU, LRN and softmax 0",
    "flop_counter": "torch.utils.flop_counter.FlopCounterMode, get_total_flops(): dispatch-level "
                    "conv and matmul FLOPs, 2 per MAC, no bias; nothing else",
    "ptflops_pytorch": "ptflops get_model_complexity_info(backend='pytorch'): module hooks plus "
                       "patched torch.nn.functional calls; conv and linear MACs plus bias, BN 2 "
                       "per element, ReLU and every pool counted twice (its module hook and the "
                       "functional call inside it), softmax and LRN's internal mul/add/avg_pool3d "
                       "through the patched functionals; module counts per image, functional "
                       "counts per batch; a residual sum or scaling written as + or * is not seen "
                       "(it patches torch.add and Tensor.mul, not the operators)",
    "ptflops_aten": "ptflops get_model_complexity_info(backend='aten'): aten.convolution and "
                    "aten.mm/addmm only, conv and linear MACs plus bias",
    "thop": "thop.profile: module hooks; conv and linear MACs without bias, BN 4 per element, "
            "average pool 1 per output, adaptive average pool (window+1) per output, softmax "
            "3C-1 per row; ReLU, max pool and dropout zero_ops; LRN has no rule (0); params of "
            "the modules that ran",
    "torchscan": "torchscan.crawl_module(model, args=(x,)), totals macs (its known value: a module "
                 "type it has no rule for is a diagnostic, its MACs unknown, not zero): per leaf "
                 "module, conv and linear MACs without bias, BatchNorm 2 per element, max pool "
                 "kernel - 1 and average pool kernel + 1 per output element (an int kernel size "
                 "taken as the area), adaptive average pool its approximate kernel area - 1 + 2 "
                 "per output element; activations 0",
    "torchinfo": "torchinfo.summary(...).total_mult_adds: per leaf module, parameters times "
                 "output positions for convs (bias included) and parameters times batch for the "
                 "rest (linear with bias; BatchNorm 2 per channel)",
}


@dataclass(frozen=True)
class Reading:
    """What one peer reports for the whole batch."""

    total: int
    params: int | None = None
    by_kind: dict = field(default_factory=dict)  # empty where the tool gives no breakdown


def installed(tool: str) -> bool:
    """Whether the peer's package imports here (thop, for one, is found but fails to import on
    Python 3.12 without setuptools)."""
    try:
        importlib.import_module(MODULES[tool])
    except ImportError:
        return False
    return True


def version(tool: str) -> str | None:
    """The installed version of the peer's distribution (torch's for FlopCounterMode), without a
    local build tag such as +cpu, which says nothing about counting."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("torch" if tool == "flop_counter" else
                                 MODULES[tool]).split("+")[0]
    except PackageNotFoundError:
        return None


def run(tool: str, model, x) -> Reading:
    """Run one peer on ``model`` (eval mode) with input ``x``; its printing is swallowed."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return _RUNNERS[tool](model, x)


def _by_kind(pairs, kind_of) -> dict:
    """The values of (name, value) pairs summed by ``kind_of(name)``, zeros left out."""
    out: dict[str, int] = {}
    for name, value in pairs:
        op_kind = kind_of(name)
        out[op_kind] = out.get(op_kind, 0) + int(value)
    return {k: v for k, v in out.items() if v}


def _module_kind(name: str) -> str:
    return MODULE_KINDS.get(name, name)


def _fvcore_kind(name: str) -> str:
    return _FVCORE_KINDS.get(name) or kind(name)


def _fvcore(model, x) -> Reading:
    import torch
    from fvcore.nn import FlopCountAnalysis, parameter_count

    with torch.no_grad():
        analysis = FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        total = int(analysis.total())
        by_operator = analysis.by_operator()
    return Reading(total, int(parameter_count(model)[""]),
                   _by_kind(by_operator.items(), _fvcore_kind))


def _flop_counter(model, x) -> Reading:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    counts = counter.get_flop_counts().get("Global", {})
    return Reading(int(counter.get_total_flops()), None,
                   _by_kind(((str(op).split(".")[-1], v) for op, v in counts.items()), kind))


def _ptflops(backend: str):
    def runner(model, x) -> Reading:
        from ptflops import get_model_complexity_info

        macs, params = get_model_complexity_info(
            model, tuple(x.shape[1:]), as_strings=False, print_per_layer_stat=False,
            backend=backend, input_constructor=lambda _: x)
        if macs is None:
            raise RuntimeError(f"ptflops ({backend} backend) failed on this model")
        return Reading(int(macs), int(params))
    return runner


def _thop(model, x) -> Reading:
    import torch
    from thop import profile

    with torch.no_grad():
        total, params, layers = profile(model, inputs=(x,), verbose=False, ret_layer_info=True)
    modules = dict(model.named_modules(remove_duplicate=False))  # thop names a shared one twice
    pairs = []

    def leaves(tree: dict, prefix: str) -> None:
        for name, (ops, _params, children) in tree.items():
            path = f"{prefix}{name}"
            if children:
                leaves(children, path + ".")
            else:
                pairs.append((type(modules[path]).__name__, ops))
    leaves(layers, "")
    return Reading(int(total), int(params), _by_kind(pairs, _module_kind))


def _torchinfo(model, x) -> Reading:
    from torchinfo import summary

    stats = summary(model, input_data=[x], verbose=0, mode="eval")
    pairs = [(layer.class_name, layer.macs) for layer in stats.summary_list if layer.is_leaf_layer]
    return Reading(int(stats.total_mult_adds), int(stats.total_params),
                   _by_kind(pairs, _module_kind))


def _torchscan(model, x) -> Reading:
    import torchscan

    report = torchscan.crawl_module(model, args=(x,))
    totals = report["totals"]
    pairs = [(layer["type"], layer["metrics"]["macs"]["known_value"] or 0)
             for layer in report["layers"] if "macs" in layer["metrics"]]
    return Reading(int(totals["macs"]["known_value"] or 0), int(totals["parameters"]["value"]),
                   _by_kind(pairs, _module_kind))


_RUNNERS = {"fvcore": _fvcore, "flop_counter": _flop_counter,
            "ptflops_pytorch": _ptflops("pytorch"), "ptflops_aten": _ptflops("aten"),
            "thop": _thop, "torchinfo": _torchinfo, "torchscan": _torchscan}
