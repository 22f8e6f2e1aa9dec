"""A model's example inputs: the image default (N, C, H, W), ``--input SHAPE[:DTYPE]`` and
``--input NAME=SHAPE[:DTYPE]`` (positional and keyword tensors), or ``--inputs file.py:factory``
(any args and kwargs the factory returns).

Inputs are zeros: a float input of zeros, an integer input of zeros (valid indices into any
embedding), a bool input of False. The parsing needs no torch; ``Example`` holds the tensors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import UsageError, described
from ..seeded import SEED

# The dtypes an --input may name, by the names torch gives them (and their short forms).
DTYPES = {"float32": "float32", "float": "float32", "fp32": "float32", "float16": "float16",
          "half": "float16", "fp16": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16",
          "float64": "float64", "double": "float64", "int64": "int64", "long": "int64",
          "int32": "int32", "int": "int32", "int16": "int16", "int8": "int8", "uint8": "uint8",
          "bool": "bool"}
# The most values one --input may hold: the model runs on it for real (FlopCounterMode's pass).
MAX_VALUES = 1 << 28


@dataclass(frozen=True)
class InputSpec:
    """One --input: a keyword name (None: positional), a full shape (batch first), a dtype."""

    name: str | None
    shape: tuple[int, ...]
    dtype: str = "float32"

    def text(self) -> str:
        """'1x128:int64', 'attention_mask=1x128:int64', or '1x3x224x224' for float32."""
        shape = "x".join(map(str, self.shape)) or "scalar"
        dtype = "" if self.dtype == "float32" else f":{self.dtype}"
        return f"{self.name + '=' if self.name else ''}{shape}{dtype}"


def parse_input(text: str) -> InputSpec:
    """'1x128:int64' or 'attention_mask=1x128:int64' -> an InputSpec; a UsageError otherwise."""
    name, sep, rest = text.partition("=")
    if not sep:
        name, rest = None, text
    elif not name.strip().isidentifier():
        raise UsageError(f"--input {text!r}: the keyword before '=' must be a Python name")
    shape_text, _, dtype = rest.partition(":")
    match = re.fullmatch(r"\s*\d+(\s*[x×]\s*\d+)*\s*", shape_text)
    if not match:
        raise UsageError(f"--input {text!r}: expected SHAPE[:DTYPE] or NAME=SHAPE[:DTYPE], with "
                         "SHAPE like 1x128 or 1x3x224x224")
    shape = tuple(int(s) for s in re.split(r"[x×]", shape_text))
    if not all(s >= 1 for s in shape):
        raise UsageError(f"--input {text!r}: every dimension must be 1 or more")
    total = 1
    for s in shape:
        total *= s
    if total > MAX_VALUES:
        raise UsageError(f"--input {text!r}: {total:,} values, more than the {MAX_VALUES:,} an "
                         "example input may hold")
    dtype = dtype.strip().lower() or "float32"
    if dtype not in DTYPES:
        raise UsageError(f"--input {text!r}: unknown dtype {dtype!r}; choose from "
                         f"{', '.join(sorted(set(DTYPES.values())))}")
    return InputSpec(name.strip() if name else None, shape, DTYPES[dtype])


def parse_inputs(texts) -> list[InputSpec]:
    """Every --input, in order; a keyword given twice is refused."""
    specs = [parse_input(t) for t in texts or ()]
    names = [s.name for s in specs if s.name]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice:
        raise UsageError(f"--input {twice}=... is given twice")
    return specs


@dataclass
class Example:
    """The example a model is run on: positional args and keyword args (tensors or anything the
    model takes), and how it was made, in words."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    source: str = ""

    def first(self):
        """The first tensor among the args, then the kwargs (None if there is none)."""
        return next((v for v in (*self.args, *self.kwargs.values()) if _is_tensor(v)), None)

    def shape(self) -> tuple:
        """The first tensor's shape (the image's N, C, H, W by default)."""
        first = self.first()
        return tuple(int(s) for s in first.shape) if first is not None else ()

    def batch_size(self) -> int:
        """The first tensor's first dimension (1 for a scalar or no tensor)."""
        shape = self.shape()
        return shape[0] if shape else 1

    def describe(self) -> str:
        """Every input in order, as --input spells it: '1x128:int64, attention_mask=1x128:int64'."""
        parts = [_describe(v) for v in self.args]
        parts += [f"{k}={_describe(v)}" for k, v in self.kwargs.items()]
        return ", ".join(parts) or "no inputs"

    def run(self, model):
        """``model(*args, **kwargs)``."""
        return model(*self.args, **self.kwargs)


def _is_tensor(value) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _describe(value) -> str:
    if not _is_tensor(value):
        return type(value).__name__
    shape = "x".join(str(int(s)) for s in value.shape) or "scalar"
    dtype = str(value.dtype).replace("torch.", "")
    return shape if dtype == "float32" else f"{shape}:{dtype}"


def zeros(specs: list[InputSpec]) -> Example:
    """The example the --input specs describe: zeros of each shape and dtype."""
    import torch

    args = tuple(torch.zeros(s.shape, dtype=getattr(torch, s.dtype)) for s in specs if not s.name)
    kwargs = {s.name: torch.zeros(s.shape, dtype=getattr(torch, s.dtype)) for s in specs if s.name}
    return Example(args, kwargs, "--input")


# The sources of the examples incprof makes up (zeros of the right shapes and dtypes), as against
# values that the user's code gave (an --inputs factory, the Python API's args).
MADE_UP = ("--input", "image", "config")


def for_timing(example: Example, seed: int = SEED) -> tuple[Example, str]:
    """(the example a model is timed on, what its values are, in words). Where incprof made the
    example up (``MADE_UP``), each floating tensor is drawn from the standard normal distribution
    (``seed``): kernels whose speed depends on the data run faster on zeros (a 3x3 max pool up to
    3x on this project's CPU). Integer and bool tensors (token ids, masks) stay zeros; the user's
    own values are untouched."""
    if example.source not in MADE_UP:
        return example, f"the given inputs' own values ({example.source})"
    import torch

    generator, kinds = torch.Generator().manual_seed(seed), set()

    def draw(value):
        if not _is_tensor(value):
            return value
        kinds.add(value.is_floating_point())
        if value.is_floating_point():
            return torch.randn(value.shape, generator=generator).to(value.dtype)
        return value

    drawn = Example(tuple(map(draw, example.args)), {k: draw(v) for k, v in
                                                     example.kwargs.items()}, example.source)
    said = ([f"floating inputs standard normal (seed {seed})"] if True in kinds else []) + (
        ["integer and bool inputs zeros"] if False in kinds else [])
    return drawn, ", ".join(said) or "no tensor inputs"


def image_shape(model, input_size=None, channels: int = 3, batch_size: int = 1) -> tuple:
    """(N, C, H, W) of the image default: ``input_size`` (an int or (H, W)), else the model's own
    default (timm's pretrained_cfg), else 224x224."""
    if input_size is None:
        cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None) or {}
        size = cfg.get("input_size") if isinstance(cfg, dict) else None
        input_size = tuple(size[1:]) if size else (224, 224)
    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    return (batch_size, channels, *input_size)


def image(model, input_size=None, channels: int = 3, batch_size: int = 1) -> Example:
    """The image default: one float input of zeros, (N, C, H, W) as ``image_shape``."""
    import torch

    return Example((torch.zeros(image_shape(model, input_size, channels, batch_size)),), {},
                   "image")


# Token ids per sequence a Hugging Face text model runs on by default (--seq-len).
DEFAULT_SEQ_LEN = 128


def default(model, input_size=None, channels: int = 3, batch_size: int = 1,
            seq_len: int | None = None) -> Example:
    """The example a model runs on when no --input is given. A Hugging Face model's comes from its
    config: token ids (zeros, ``seq_len`` of them, default 128) as ``input_ids``, and for an
    encoder-decoder ``decoder_input_ids`` of the same length; or ``pixel_values`` of the config's
    image size and channels (``input_size`` overrides the size). Any other model: the image."""
    import torch

    config, main = getattr(model, "config", None), getattr(model, "main_input_name", None)
    if config is None or main is None:
        if seq_len is not None:
            raise UsageError("--seq-len applies to Hugging Face text models (hf:TYPE); give "
                             "other models their inputs with --input")
        return image(model, input_size, channels, batch_size)
    if main == "input_ids":
        if input_size is not None:
            raise UsageError(f"--input-size does not apply to {type(model).__name__}, which takes "
                             "token ids: use --seq-len")
        longest = getattr(config, "max_position_embeddings", None)
        if isinstance(longest, int) and (seq_len or DEFAULT_SEQ_LEN) > longest:
            raise UsageError(f"--seq-len {seq_len or DEFAULT_SEQ_LEN} is longer than the "
                             f"{longest} positions of {type(model).__name__}'s config "
                             "(max_position_embeddings)")
        ids = torch.zeros(batch_size, seq_len or DEFAULT_SEQ_LEN, dtype=torch.int64)
        kwargs = {"input_ids": ids}
        if getattr(config, "is_encoder_decoder", False):
            kwargs["decoder_input_ids"] = ids
        return Example((), kwargs, "config")
    if main == "pixel_values" and seq_len is None:
        size = input_size or getattr(config, "image_size", 224)
        shape = image_shape(model, size, getattr(config, "num_channels", channels), batch_size)
        return Example((), {"pixel_values": torch.zeros(shape)}, "config")
    raise UsageError(f"{type(model).__name__} takes {main!r}"
                     + (", not token ids (--seq-len)" if seq_len is not None else "")
                     + ": give its inputs with --input or --inputs")


def from_factory(ref: str, model=None) -> Example:
    """``--inputs file.py:make_inputs`` (or package.module:make_inputs): the factory's (args,
    kwargs), a tuple of args, a dict of kwargs or one tensor. A factory that takes an argument is
    given the model."""
    import inspect

    from .models import load_callable

    make = load_callable(ref, "--inputs")
    try:
        takes = len(inspect.signature(make).parameters) > 0
    except (TypeError, ValueError):
        takes = False
    try:
        made = make(model) if takes else make()
    except Exception as exc:  # the user's factory failed: one line naming it
        raise UsageError(f"--inputs {ref!r}: the factory raised {described(exc)}") from None
    if _is_tensor(made):
        return Example((made,), {}, ref)
    if isinstance(made, dict):
        return Example((), dict(made), ref)
    if (isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], (tuple, list))
            and isinstance(made[1], dict)):
        return Example(tuple(made[0]), dict(made[1]), ref)
    if isinstance(made, (tuple, list)):
        return Example(tuple(made), {}, ref)
    raise UsageError(f"--inputs {ref!r}: the factory returned {type(made).__name__}; return "
                     "(args, kwargs), a tuple of args, a dict of kwargs or a tensor")


def register_outputs(value) -> None:
    """Let torch.export return a model's output of any structure: tensors, tuples and lists, dicts
    and dataclasses (Hugging Face's ModelOutput is registered by transformers itself); each
    dataclass type not yet known to torch's pytree is registered as one, once."""
    import dataclasses

    if isinstance(value, dict):
        for v in value.values():
            register_outputs(v)
    elif isinstance(value, (tuple, list)):
        for v in value:
            register_outputs(v)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        from torch.export import register_dataclass
        from torch.utils._pytree import SUPPORTED_NODES

        if type(value) not in SUPPORTED_NODES:
            register_dataclass(type(value))
        for f in dataclasses.fields(value):
            register_outputs(getattr(value, f.name))
