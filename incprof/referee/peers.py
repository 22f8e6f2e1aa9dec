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
import re
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

# The key of ptflops' patched calls in its breakdown: its per-layer listing gives each module
# hook's count, and the rest of its total is what it counted through patched functions.
CALLS = "patched calls"

# One line per peer: how it runs and what it counts, for the docs and the report.
DESCRIPTIONS = {
    "fvcore": "FlopCountAnalysis(model, x).total(), autograd on: traces with torch.jit; conv "
              "and linear MACs without bias, BatchNorm 2 per element (eval, affine), adaptive "
              "average pooling 1 per input element; max/avg pooling, ReLU, LRN and softmax 0",
    "flop_counter": "torch.utils.flop_counter.FlopCounterMode, get_total_flops(), under "
                    "torch.no_grad(): dispatch-level conv and matmul FLOPs, 2 per MAC, no bias; "
                    "nothing else",
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


class PeerFailed(RuntimeError):
    """A peer's own failure, caught and printed by the peer: its message is the exception's
    first line as the peer printed it (``ValueError: ...``)."""


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


def run(tool: str, model, example) -> Reading:
    """Run one peer on ``model`` (eval mode) with ``example`` (an incprof.capture.inputs.Example:
    args and kwargs; or one tensor), given the peer's own way; its printing is swallowed."""
    if not hasattr(example, "run"):
        from ..capture.inputs import Example

        example = Example((example,))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return _RUNNERS[tool](model, example)


def moved(example, device):
    """``example`` with its tensors on ``device``."""
    import torch
    from torch.utils._pytree import tree_map

    from ..capture.inputs import Example

    to = lambda v: v.to(device) if isinstance(v, torch.Tensor) else v  # noqa: E731
    return Example(tree_map(to, example.args), tree_map(to, example.kwargs), example.source)


def images(tool: str, example) -> int | None:
    """What ``tool`` divides its per-image module counts by, where that is not the batch:
    ptflops' pytorch backend divides by the length of the first positional input it calls the
    model with, and by 1 when it calls it with keywords (pytorch_engine.py,
    batch_counter_hook)."""
    if tool != "ptflops_pytorch" or _ptflops_input(example) is not None:
        return None
    return 1


def _ptflops_input(example):
    """The one tensor ptflops' input_constructor returns for ``example``, or None where it must
    return a dict of keywords (ptflops calls ``model(x)`` or ``model(**x)``, nothing else)."""
    if len(example.args) == 1 and not example.kwargs:
        return example.args[0]
    return None


def _parameters(model):
    import inspect

    return list(inspect.signature(model.forward).parameters.values())


def _keywords(model, example) -> dict:
    """Every input of ``example`` as a keyword, the positional ones named by the model's
    ``forward``: for a peer that calls ``model(**inputs)``."""
    import inspect

    named = [p for p in _parameters(model) if p.kind in (p.POSITIONAL_ONLY,
                                                        p.POSITIONAL_OR_KEYWORD)]
    if len(example.args) > len(named) or any(
            p.kind is inspect.Parameter.POSITIONAL_ONLY for p in named[:len(example.args)]):
        raise TypeError(f"{type(model).__name__}.forward cannot take its "
                        f"{len(example.args)} positional inputs by keyword, as this peer "
                        "passes them")
    return {**{p.name: a for p, a in zip(named, example.args)}, **example.kwargs}


def _positional(model, example) -> tuple:
    """Every input of ``example`` in position, in the order of the model's ``forward`` (a
    parameter between them not given takes its default): for a peer that calls
    ``model(*inputs)``."""
    kwargs = dict(example.kwargs)
    args = list(example.args)
    for p in _parameters(model)[len(args):]:
        if not kwargs:
            break
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) or (
                p.name not in kwargs and p.default is p.empty):
            break
        args.append(kwargs.pop(p.name, p.default))
    if kwargs:
        raise TypeError(f"this peer takes positional inputs only, and "
                        f"{type(model).__name__}.forward cannot take {', '.join(kwargs)} in "
                        "position")
    return tuple(args)


def _by_kind(pairs, kind_of) -> dict:
    """The values of (name, value) pairs summed by ``kind_of(name)``, zeros left out."""
    out: dict[str, int] = {}
    for name, value in pairs:
        op_kind = kind_of(name)
        out[op_kind] = out.get(op_kind, 0) + int(value)
    return {k: v for k, v in out.items() if v}


def _module_kind(name: str) -> str:
    """A module class's op kind, as the inventory names it (its class name for one of no kind)."""
    return MODULE_KINDS.get(name, name)


def _fvcore_kind(name: str) -> str:
    return _FVCORE_KINDS.get(name) or kind(name)


def _fvcore(model, example) -> Reading:
    from fvcore.nn import FlopCountAnalysis, parameter_count

    analysis = FlopCountAnalysis(model, _positional(model, example))  # autograd on, as documented
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    total = int(analysis.total())
    by_operator = analysis.by_operator()
    return Reading(total, int(parameter_count(model)[""]),
                   _by_kind(by_operator.items(), _fvcore_kind))


def _flop_counter(model, example) -> Reading:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        example.run(model)
    counts = counter.get_flop_counts().get("Global", {})
    return Reading(int(counter.get_total_flops()), None,
                   _by_kind(((str(op).split(".")[-1], v) for op, v in counts.items()), kind))


def _ptflops(backend: str):
    def runner(model, example) -> Reading:
        from ptflops import get_model_complexity_info

        x = _ptflops_input(example)
        x = _keywords(model, example) if x is None else x
        said = io.StringIO()  # its per-layer listing, or the exception it caught and printed
        with contextlib.redirect_stdout(said):
            macs, params = get_model_complexity_info(
                model, tuple(example.shape()[1:]) or (1,), as_strings=False,
                print_per_layer_stat=True, flops_units="Mac", backend=backend,
                input_constructor=lambda _: x, ost=said)
        if macs is None:
            raise PeerFailed(_ptflops_failure(said.getvalue(), backend))
        listing = _ptflops_modules if backend == "pytorch" else _ptflops_ops
        return Reading(int(macs), int(params), listing(model, said.getvalue(), int(macs)))
    return runner


def _ptflops_modules(model, listing: str, total: int) -> dict:
    """ptflops' pytorch backend's breakdown, read from its per-layer listing (the model's repr
    with each module's count, per image, in units of Mac): each module it hooks
    (pytorch_ops.MODULES_MAPPING) by op kind, and the rest of its total, counted through its
    patched functions, as ``CALLS``. Empty where the listing does not name every module."""
    from ptflops.pytorch_ops import MODULES_MAPPING

    from ..capture.inventory import module_kind

    values = [float(v) for v in re.findall(r"(\S+) Mac, ", listing)]
    named = list(model.named_modules(remove_duplicate=False))
    if len(values) != len(named):
        return {}
    out: dict[str, float] = {}
    hooked = None  # the module whose count covers the ones inside it
    for (name, module), value in zip(named, values):
        if hooked is not None and name.startswith(hooked):
            continue
        if type(module) in MODULES_MAPPING:
            hooked = f"{name}."
            kind_of = module_kind(module)  # else its class: a hook no rule here describes
            kind_of = type(module).__name__ if kind_of in (None, "module") else kind_of
            out[kind_of] = out.get(kind_of, 0) + value
    out[CALLS] = total - sum(out.values())
    return {k: round(v) for k, v in out.items() if round(v)}


def _ptflops_ops(model, listing: str, total: int) -> dict:
    """ptflops' aten backend's breakdown, read from its per-layer listing: the "Global" module's
    count per aten op (``aten.mm: 1234 Mac``), by op kind."""
    section = listing.split("Module:  Global", 1)[-1].split("Module: ", 1)[0]
    return _by_kind(((op, int(float(v))) for op, v in
                     re.findall(r"^aten\.(\w+): (\S+) Mac$", section, re.MULTILINE)), kind)


def _ptflops_failure(printed: str, backend: str) -> str:
    """The exception ptflops caught and printed (``<class 'KeyError'>: 'x'``) as one line."""
    caught = re.search(r"^<class '(?:[\w.]*\.)?(\w+)'>: (.*)$", printed, re.MULTILINE)
    return f"{caught[1]}: {caught[2]}" if caught else \
        f"ptflops ({backend} backend) failed on this model"


def _thop(model, example) -> Reading:
    import torch
    from thop import profile

    with torch.no_grad():
        total, params, layers = profile(model, inputs=_positional(model, example), verbose=False,
                                        ret_layer_info=True)
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


def _torchinfo(model, example) -> Reading:
    from torchinfo import summary

    if example.args:  # model(*input_data, **kwargs)
        stats = summary(model, input_data=list(example.args), verbose=0, mode="eval",
                        **example.kwargs)
    else:  # model(**input_data)
        stats = summary(model, input_data=dict(example.kwargs), verbose=0, mode="eval")
    pairs = [(layer.class_name, layer.macs) for layer in stats.summary_list if layer.is_leaf_layer]
    return Reading(int(stats.total_mult_adds), int(stats.total_params),
                   _by_kind(pairs, _module_kind))


def _torchscan(model, example) -> Reading:
    import torchscan

    report = torchscan.crawl_module(model, args=tuple(example.args), kwargs=dict(example.kwargs))
    totals = report["totals"]
    pairs = [(layer["type"], layer["metrics"]["macs"]["known_value"] or 0)
             for layer in report["layers"] if "macs" in layer["metrics"]]
    return Reading(int(totals["macs"]["known_value"] or 0), int(totals["parameters"]["value"]),
                   _by_kind(pairs, _module_kind))


_RUNNERS = {"fvcore": _fvcore, "flop_counter": _flop_counter,
            "ptflops_pytorch": _ptflops("pytorch"), "ptflops_aten": _ptflops("aten"),
            "thop": _thop, "torchinfo": _torchinfo, "torchscan": _torchscan}
