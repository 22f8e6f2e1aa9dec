"""Model references -> nn.Module: ``torchvision:NAME``, ``timm:NAME`` (no pretrained weights),
``hf:TYPE`` (a Hugging Face transformers model from its default config, offline),
``path/to/file.py:factory`` and ``package.module:factory``.

A library's model is built without drawing its initial weights (counting never reads a weight;
``capture.skip_init``), unless it is to be timed (``draw_weights``): its kernels then run on the
values torch's initialisers draw, seeded, not on zeros or leftover memory.

Importing a user's file or module runs their code, as any tool that loads Python does.
Every failure is a UsageError naming the reference and the reason.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path

from ..errors import UsageError, described, quoted
from ..seeded import SEED, seeded
from .skip_init import skip_init


def parse_model_args(pairs) -> dict:
    """['depth=3', 'scale=0.5', 'aux=false', 'name=x', 'depths=[1,2]'] -> {'depth': 3, 'scale': 0.5,
    'aux': False, 'name': 'x', 'depths': [1, 2]}: each value as an int, a float, a bool
    (true/false), a JSON list, or else a string."""
    out = {}
    for pair in pairs or ():
        key, sep, text = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError(f"--model-arg must be key=value with a Python name as key, got {quoted(pair)}")
        out[key.strip()] = _value(text.strip())
    return out


def _value(text: str):
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.startswith("["):  # a list, as JSON: [1, 2, 2] (a config's depths)
        import json

        try:
            return json.loads(text)
        except ValueError:
            pass
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# The libraries whose models incprof builds itself, by the prefix of their references.
LIBRARIES = {"torchvision": "torchvision", "timm": "timm", "hf": "transformers"}


def resolve_model(ref: str, kwargs: dict | None = None, *, draw_weights: bool = False):
    """The nn.Module a reference names, built with ``kwargs`` (for ``hf:``, config fields); a
    library's model with its initial weights drawn (seed 0) where ``draw_weights``, else left
    undrawn (see the module's docstring). A user's factory builds its model as its code says."""
    kwargs = kwargs or {}
    prefix, sep, rest = ref.partition(":")
    if prefix in LIBRARIES:
        if not rest:
            raise UsageError(f"model {quoted(ref)}: give a model name after '{prefix}:'")
        return (_hf(ref, rest, kwargs, draw_weights) if prefix == "hf" else
                _zoo(ref, prefix, rest, kwargs, draw_weights))
    return _call(ref, load_callable(ref, "model"), kwargs)


def timed_weights(ref: str) -> str:
    """What the weights of the model ``ref`` names hold when it is built to be timed, in words."""
    library = LIBRARIES.get(ref.partition(":")[0])
    return (f"weights drawn as {library} initialises them (seed {SEED})" if library else
            "weights as the model's own code made them")


def _library_call(ref: str, make, kwargs: dict, draw: bool):
    """_call for a library's model: its initialisers drawing from torch's generator seeded 0
    where ``draw`` (incprof.seeded: the caller's state restored after), else drawing nothing
    (skip_init)."""
    with seeded() if draw else skip_init():
        return _call(ref, make, kwargs)


def load_callable(ref: str, what: str):
    """The callable ``path/to/file.py:name`` or ``package.module:name`` names (importing runs that
    code); ``what`` names the option in the one-line error."""
    source, sep, factory = ref.rpartition(":")
    if not sep or not source or not factory.isidentifier():
        expected = ("torchvision:NAME, timm:NAME, hf:TYPE, " if what == "model" else "")
        raise UsageError(f"{what} {quoted(ref)}: expected {expected}path/to/file.py:factory or "
                         "package.module:factory")
    module = _load_file(ref, source, what) if source.endswith(".py") or "/" in source else \
        _import(ref, source, what)
    make = getattr(module, factory, None)
    if not callable(make):
        raise UsageError(f"{what} {quoted(ref)}: {source} has no callable {quoted(factory)}")
    return make


def _hf(ref: str, model_type: str, fields: dict, draw: bool):
    """A transformers model (AutoModel, the bare model without a task head) from the library's
    default config for ``model_type``, ``fields`` set on it (and ``attn_implementation``: eager,
    sdpa): no download, no pretrained weights."""
    try:
        import transformers
    except ImportError:
        raise UsageError(f"model {quoted(ref)}: transformers is not installed (pip install "
                         "'incprof[hf]')") from None
    transformers.logging.set_verbosity_error()
    try:
        config = transformers.AutoConfig.for_model(model_type)
    except ValueError:
        raise UsageError(f"model {quoted(ref)}: transformers has no model type "
                         f"{quoted(model_type)}") from None
    unknown = next((key for key in fields if not hasattr(config, key)
                    and key != "attn_implementation"), None)  # eager, sdpa: a loading choice
    if unknown:
        raise UsageError(f"model {quoted(ref)}: --model-arg {unknown}: {type(config).__name__} has no "
                         "such field")
    try:
        config = transformers.AutoConfig.for_model(model_type, **fields)
    except Exception as exc:
        raise UsageError(f"model {quoted(ref)}: the config refused the fields: {described(exc)}") from None
    _check_size(ref, transformers, config)
    return _library_call(ref, lambda: transformers.AutoModel.from_config(config), {}, draw)


def _check_size(ref: str, transformers, config) -> None:
    """Refuse, before allocating it, a model whose float32 weights would take more than half the
    memory left (a default config is often the full-size model: Llama's has 6.7B params)."""
    import torch

    from ..count.limits import available_bytes

    try:
        with torch.device("meta"):
            model = transformers.AutoModel.from_config(config)
    except Exception as exc:  # e.g. a hidden size that the heads do not divide
        raise UsageError(f"model {ref!r}: the model refused its config: {described(exc)}") from None
    params = sum(p.numel() for p in model.parameters())
    if params * 4 > available_bytes() // 2:
        raise UsageError(f"model {quoted(ref)}: {params:,} params ({params * 4 / 1e9:.1f} GB in float32) "
                         "do not fit in half the memory left; make the config smaller with "
                         "--model-arg (num_hidden_layers=2, hidden_size=256, ...)")


def _zoo(ref: str, library: str, name: str, kwargs: dict, draw: bool):
    try:
        zoo = importlib.import_module("torchvision.models" if library == "torchvision" else "timm")
    except ImportError:
        raise UsageError(f"model {quoted(ref)}: {library} is not installed") from None
    if library == "torchvision":
        if name not in zoo.list_models():
            raise UsageError(f"model {quoted(ref)}: torchvision has no model {quoted(name)}")
        builder = zoo.get_model_builder(name)
        if "weights_backbone" in inspect.signature(builder).parameters:
            kwargs = {"weights_backbone": None, **kwargs}  # no pretrained backbone either
        return _library_call(ref, lambda **kw: builder(weights=None, **kw), kwargs, draw)
    if not zoo.is_model(name):
        raise UsageError(f"model {quoted(ref)}: timm has no model {quoted(name)}")
    return _library_call(ref, lambda **kw: zoo.create_model(name, pretrained=False, **kw), kwargs,
                         draw)


def _load_file(ref: str, source: str, what: str):
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"{what} {quoted(ref)}: no such file {source}")
    name = "incprof_user_" + re.sub(r"\W", "_", str(path.resolve()))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file failed to import: one line naming it
        sys.modules.pop(name, None)
        raise UsageError(f"{what} {quoted(ref)}: importing {source} raised {described(exc)}") from None
    return module


def _import(ref: str, source: str, what: str):
    try:
        return importlib.import_module(source)
    except ModuleNotFoundError as exc:
        raise UsageError(f"{what} {quoted(ref)}: no module named {quoted(exc.name)}") from None
    except Exception as exc:
        raise UsageError(f"{what} {quoted(ref)}: importing {source} raised {described(exc)}") from None


def _call(ref: str, make, kwargs: dict):
    import torch

    try:
        model = make(**kwargs)
    except Exception as exc:
        raise UsageError(f"model {quoted(ref)}: the factory raised {described(exc)}") from None
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"model {quoted(ref)}: the factory returned {type(model).__name__}, "
                         "not an nn.Module")
    return model
