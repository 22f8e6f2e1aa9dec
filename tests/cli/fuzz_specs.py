"""Hypothesis strategies for valid specs, written from parts, with their counts worked out beside them.

The generator tracks each layer's output shape and computes params and MACs from the formulas (conv:
``k_h*k_w*(C_in/groups)*C_out`` weights, plus a bias and BatchNorm's scale and shift per output channel,
times ``H_out*W_out`` for MACs; linear: ``in*out`` plus a bias), so that tests/test_fuzz.py can compare
the CLI's counts with them. Names include unicode, markup and Python attribute names.
"""

from dataclasses import dataclass, field

import yaml
from hypothesis import strategies as st

# ------------------------------------------------------------------------------------------- names
HOSTILE_NAMES = [
    "forward", "training", "aux", "aux_after", "row_names", "T_destination", "_x", "__init__",
    "a.b", "add_module", "state_dict", "modules", "cuda", "0", "type", "name", "TOTAL",
    "a|b", "|", "[bold]x[/]", "[red]", "[/]", "$x$", "$", r"$\frac{}{}$", "<b>x</b>",
    "<img src=x onerror=alert(1)>", "<script>", "![i](http://example.com/x.png)",
    "[link](http://example.com)", "=1+1", "+1", "-1", "@SUM(A1)", "a\nb", "a\r\nb", "x\n| fake | row |",
    "\n# heading", "\x1b[31mred\x1b[0m", "\x9b2J", "tab\there", "back\\slash", "ünïcødé", "名前",
    "🙂", "rtl\u202eltr", "zero\u200bwidth", "yes", "null", "1e3", "010", "1:30", "*", "&a", "!x", "%x",
    "`x`", "# c", "- item", "? q", ": c", "{a}", "[1, 2]", "a: b", "  spaced  ", "'", '"', "\\",
]
_PLAIN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8)
# Names the parser accepts (it refuses control characters, separators and format characters such
# as bidi overrides), hostile or not; a minority of names keeps them, to be refused with one line.
_PRINTABLE = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Cf")),
                     min_size=1, max_size=10).map(lambda s: s if s.strip() else s + "x")
_ACCEPTED = [n for n in HOSTILE_NAMES if n.isprintable() and n.strip() == n]
NAME = st.one_of(_PLAIN.map(lambda s: "r" + s), _PRINTABLE, st.sampled_from(_ACCEPTED))
# Any text at all: one spec in five puts one such name among its rows.
ANY_NAME = st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(min_size=1, max_size=10))


def _unique(names: list[str]) -> list[str]:
    seen, out = set(), []
    for i, name in enumerate(names):
        name = name if name not in seen else f"{name}~{i}"
        seen.add(name)
        out.append(name)
    return out


# --------------------------------------------------------------------------------------- valid specs
def _size(n: int, k: int, s: int, p: int, ceil: bool = False) -> int:
    """Output size along one axis, by the rule in torch.nn.Conv2d's and MaxPool2d's documentation."""
    span = n + 2 * p - k
    size = (-(-span // s) if ceil else span // s) + 1
    return size - 1 if ceil and (size - 1) * s >= n + p else size


@dataclass
class Part:
    """Layers the generator wrote, what they do to the shape, and their counts from the formulas."""

    layers: list
    shape: tuple
    params: int = 0
    macs: int = 0
    depth: int = 0  # layers with parameters on the longest path
    windows: list = field(default_factory=list)  # "KxK/S" of every square conv or pool


def _pair(draw, kh: int, kw: int):
    if kh == kw and draw(st.booleans()):
        return kh
    return draw(st.sampled_from([f"{kh}x{kw}", [kh, kw], f"{kh}×{kw}", f" {kh} x {kw} "]))


def _maybe(draw, args: dict, key: str, value, default) -> None:
    """Write ``key: value``, or leave it out when the default gives the same value."""
    if value != default or draw(st.booleans()):
        args[key] = value


@st.composite
def conv(draw, shape, defaults, keep=False, geometry=None):
    """A conv on ``shape``: any geometry that fits, the input size kept, or a fixed (k, s, p)."""
    c, h, w = shape
    out = draw(st.integers(1, 12))
    groups = draw(st.sampled_from([g for g in range(1, min(c, out) + 1) if c % g == out % g == 0]))
    if geometry:
        (kh, kw), (sh, sw), (ph, pw) = geometry
        padding = [ph, pw] if ph != pw else ph
    elif keep:
        kh, kw, sh, sw = draw(st.sampled_from([1, 3, 5])), draw(st.sampled_from([1, 3, 5])), 1, 1
        ph, pw = (kh - 1) // 2, (kw - 1) // 2
        padding = draw(st.sampled_from(["same", [ph, pw]]))
    else:
        kh, kw = draw(st.integers(1, min(h, 5))), draw(st.integers(1, min(w, 5)))
        sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
        padding = draw(st.sampled_from([[ph, pw]] + (["valid", 0] if ph == pw == 0 else [])
                                       + ([ph] if ph == pw else [])))
    args = {"out": out, "kernel": _pair(draw, kh, kw)}
    if (sh, sw) != (1, 1) or draw(st.booleans()):
        args["stride"] = sh if sh == sw else [sh, sw]
    default_padding = defaults.get("padding", 0)
    if padding != default_padding or draw(st.booleans()):
        args["padding"] = padding
    if groups > 1 or draw(st.booleans()):
        args["groups"] = groups
    bias, relu = draw(st.booleans()), draw(st.booleans())
    bn_eps = draw(st.sampled_from([None, 0.001, 1e-5]))
    _maybe(draw, args, "bias", bias, defaults.get("bias", True))
    _maybe(draw, args, "relu", relu, defaults.get("relu", True))
    _maybe(draw, args, "bn_eps", bn_eps, defaults.get("bn_eps"))
    if draw(st.integers(0, 9)) == 9:
        args["role"] = draw(NAME)
    oh, ow = _size(h, kh, sh, ph), _size(w, kw, sw, pw)
    weights = kh * kw * (c // groups) * out
    params = weights + (out if bias else 0) + (2 * out if bn_eps else 0)
    return Part([{"conv": args}], (out, oh, ow), params, weights * oh * ow, 1,
                [f"{kh}x{kw}/{sh}"] if kh == kw else [])


@st.composite
def pool(draw, shape, keep=False, geometry=None):
    """A max or average pool on ``shape`` (same choices as ``conv``)."""
    c, h, w = shape
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    ceil = False
    if geometry:
        (kh, kw), (sh, sw), (ph, pw) = geometry
    elif keep:
        kh = kw = draw(st.sampled_from([1, 3]))
        sh = sw = 1
        ph = pw = kh // 2
    else:
        kh, kw = draw(st.integers(1, min(h, 4))), draw(st.integers(1, min(w, 4)))
        sh, sw = (kh, kw) if draw(st.booleans()) else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
        ceil = draw(st.booleans())
    args = {"kernel": _pair(draw, kh, kw)}
    if (sh, sw) != (kh, kw) or draw(st.booleans()):
        args["stride"] = sh if sh == sw else [sh, sw]
    if (ph, pw) != (0, 0) or draw(st.booleans()):
        args["padding"] = ph if ph == pw else [ph, pw]
    if ceil or draw(st.booleans()):
        args["ceil_mode"] = ceil
    shape = (c, _size(h, kh, sh, ph, ceil), _size(w, kw, sw, pw, ceil))
    return Part([{kind: args}], shape, windows=[f"{kh}x{kw}/{sh}"] if kh == kw else [])


@st.composite
def simple(draw, shape):
    """A layer that keeps the shape and has no parameters: LRN or dropout."""
    if draw(st.booleans()):
        args = {"size": draw(st.integers(1, 5))}
        for key, values in (("alpha", [1e-4, 2e-5]), ("beta", [0.75, 0.5]), ("k", [1.0, 2])):
            if draw(st.booleans()):
                args[key] = draw(st.sampled_from(values))
        return Part([{"lrn": args}], shape)
    return Part([{"dropout": {"p": draw(st.sampled_from([0, 0.2, 0.5, 0.999]))}}], shape)


@st.composite
def branches(draw, shape, defaults, level, keep):
    """Parallel branches that end at one size: each keeps the size, then (unless ``keep``)
    optionally all end in a conv or pool of one shared geometry. Branches nest two levels deep."""
    c, h, w = shape
    geometry = None
    if not keep and draw(st.booleans()):
        k = draw(st.integers(1, min(h, w, 3)))
        geometry = ((k, k), (draw(st.integers(1, 2)),) * 2, (draw(st.integers(0, k // 2)),) * 2)
    parts = []
    for _ in range(draw(st.integers(2, 3))):
        part = draw(sequence(shape, defaults, keep=True, level=level + 1, longest=2))
        if geometry:
            end = draw(conv(part.shape, defaults, geometry=geometry) if draw(st.booleans())
                       else pool(part.shape, geometry=geometry))
            part = _chain(part, end)
        parts.append(part)
    out = (sum(p.shape[0] for p in parts), *parts[0].shape[1:])
    return Part([{"branches": [p.layers for p in parts]}], out, sum(p.params for p in parts),
                sum(p.macs for p in parts), max(p.depth for p in parts),
                [x for p in parts for x in p.windows])


def _chain(a: Part, b: Part) -> Part:
    return Part(a.layers + b.layers, b.shape, a.params + b.params, a.macs + b.macs,
                a.depth + b.depth, a.windows + b.windows)


@st.composite
def separable(draw, shape, keep=False):
    """A depthwise-separable conv at stride 1 (its settings written out, so no default applies)."""
    c, h, w = shape
    out, multiplier = draw(st.integers(1, 12)), draw(st.integers(1, 3))
    k = draw(st.sampled_from([1, 3, 5]) if keep else st.integers(1, min(h, w, 5)))
    p = (k - 1) // 2 if keep else draw(st.integers(0, k // 2))
    bias, relu = draw(st.booleans()), draw(st.booleans())
    bn_eps = draw(st.sampled_from([None, 0.001]))
    args = {"out": out, "kernel": k, "padding": p, "multiplier": multiplier, "bias": bias,
            "relu": relu, "bn_eps": bn_eps}
    oh, ow = _size(h, k, 1, p), _size(w, k, 1, p)
    weights = k * k * c * multiplier + c * multiplier * out  # depthwise, then pointwise
    params = weights + (out if bias else 0) + (2 * out if bn_eps else 0)
    return Part([{"separable": args}], (out, oh, ow), params, weights * oh * ow, 1,
                [f"{k}x{k}/1"])


@st.composite
def residual(draw, shape, defaults, level):
    """A residual block: a body that keeps the size (after an optional ReLU), added to the input,
    or to a 1x1 conv of it where the body changes the channels; an optional scale and ReLU."""
    c, h, w = shape
    body = draw(sequence(shape, defaults, keep=True, level=level + 1, longest=2))
    if draw(st.booleans()):
        body = _chain(Part([{"relu": {}}], shape), body)
    block = {"body": body.layers}
    part = Part([], body.shape, body.params, body.macs, body.depth, body.windows)
    if body.shape[0] != c or draw(st.integers(0, 3)) == 0:  # a projection shortcut
        out = body.shape[0]
        block["shortcut"] = [{"conv": {"out": out, "kernel": 1, "bias": False, "relu": False,
                                       "bn_eps": None}}]
        part = Part([], body.shape, body.params + c * out, body.macs + c * out * h * w,
                    max(body.depth, 1), body.windows + ["1x1/1"])
    if draw(st.booleans()):
        block["scale"] = draw(st.sampled_from([0.17, 0.1, 2]))
    if draw(st.booleans()):
        block["relu"] = True
    part.layers = [{"residual": block}]
    return part


@st.composite
def sequence(draw, shape, defaults, keep=False, level=0, longest=3):
    """One to ``longest`` spatial layers; ``keep``: the output has the input's height and width."""
    part = Part([], shape)
    for _ in range(draw(st.integers(1, longest))):
        kind = draw(st.sampled_from(["conv", "pool", "simple", "conv", "branches", "residual",
                                     "separable"]))
        if kind == "branches" and level < 2:
            step = draw(branches(part.shape, defaults, level, keep))
        elif kind == "residual" and level < 2:
            step = draw(residual(part.shape, defaults, level))
        elif kind == "separable":
            step = draw(separable(part.shape, keep=keep))
        elif kind == "pool":
            step = draw(pool(part.shape, keep=keep))
        elif kind == "simple":
            step = draw(simple(part.shape))
        else:
            step = draw(conv(part.shape, defaults, keep=keep))
        part = _chain(part, step)
    return part


@st.composite
def module(draw, shape, defaults):
    """GoogLeNet's filter columns: an Inception module (or one branch of it) that keeps the size."""
    c, h, w = shape
    cols = {}
    for name in ("ch1x1", "ch3x3", "ch5x5", "pool_proj"):
        if draw(st.booleans()):
            cols[name] = draw(st.integers(1, 8))
    if not cols:
        cols["ch3x3"] = draw(st.integers(1, 8))
    for red, main in (("ch3x3red", "ch3x3"), ("ch5x5red", "ch5x5")):
        if main in cols and draw(st.booleans()):
            cols[red] = draw(st.integers(1, 8))
    bias, bn = defaults.get("bias", True), defaults.get("bn_eps")

    def counts(cin, out, k):
        weights = k * k * cin * out
        return weights + (out if bias else 0) + (2 * out if bn else 0), weights * h * w

    convs = [(c, cols.get("ch1x1"), 1), (c, cols.get("ch3x3red"), 1),
             (cols.get("ch3x3red", c), cols.get("ch3x3"), 3), (c, cols.get("ch5x5red"), 1),
             (cols.get("ch5x5red", c), cols.get("ch5x5"), 5), (c, cols.get("pool_proj"), 1)]
    params, macs = map(sum, zip(*(counts(*x) for x in convs if x[1])))
    out = sum(cols.get(k, 0) for k in ("ch1x1", "ch3x3", "ch5x5", "pool_proj"))
    longest = 1 + any(red in cols for red in ("ch3x3red", "ch5x5red"))
    return cols, Part([], (out, h, w), params, macs, longest)


@dataclass
class Net:
    """A generated spec, and what the generator knows about it."""

    data: dict
    rows: list = field(default_factory=list)  # (params, macs) per row, then per aux head
    n_aux: int = 0
    mutation: str | None = None
    raw: dict = field(default_factory=dict)  # placeholder -> raw YAML text
    cut: int | None = None  # truncate the text at this fraction (in thousandths)

    def text(self) -> str:
        try:
            text = yaml.safe_dump(self.data, sort_keys=False, allow_unicode=True)
        except yaml.YAMLError:
            text = yaml.safe_dump(self.data, sort_keys=False)
        for token, raw in self.raw.items():
            text = text.replace(token, raw)
        return text[:len(text) * self.cut // 1000] if self.cut is not None else text


@st.composite
def valid_net(draw) -> Net:
    """A spec that is valid by construction, with its counts worked out beside it."""
    shape = (draw(st.integers(1, 6)), draw(st.integers(1, 24)), draw(st.integers(1, 24)))
    defaults = {}
    for key, values in (("bias", [False, True]), ("bn_eps", [0.001]), ("relu", [False, True]),
                        ("padding", [0, "valid", 1, "same"])):
        if draw(st.integers(0, 3)) == 3:
            defaults[key] = draw(st.sampled_from(values))
    n_spatial, n_aux = draw(st.integers(1, 4)), draw(st.integers(0, 2))
    names = draw(st.lists(NAME, min_size=n_spatial + 3 + n_aux, max_size=n_spatial + 3 + n_aux))
    if draw(st.integers(0, 4)) == 0:
        names[draw(st.integers(0, len(names) - 1))] = draw(ANY_NAME)
    names = _unique(names)
    data = {"name": draw(NAME)}
    if draw(st.booleans()):
        data["title"] = draw(NAME)
    data["input"] = list(shape)
    if defaults:
        data["defaults"] = {"conv": defaults}
    rows, counts, spatial = [], [], []
    for i in range(n_spatial):
        row = {"name": names[i], "type": draw(NAME)}
        part = Part([], shape)
        if draw(st.integers(0, 3)) == 3:
            cols, part = draw(module(shape, defaults))
            row.update(cols)
        if not part.depth or draw(st.booleans()):
            part = _chain(part, draw(sequence(part.shape, defaults)))
        if part.layers:
            row["layers"] = part.layers
        _printed(draw, row, part)
        rows.append(row)
        counts.append((part.params, part.macs))
        spatial.append(part.shape)
        shape = part.shape
    tail = names[n_spatial:n_spatial + 3]
    if draw(st.booleans()):
        rows.append({"name": tail[0], "type": "global avg pool", "layers": [{"global_avgpool": {}}]})
        counts.append((0, 0))
        shape = (shape[0], 1, 1)
    for name in tail[1:]:
        if draw(st.booleans()):
            break
        layers, params, macs, features = [], 0, 0, shape[0] * shape[1] * shape[2]
        flat = False
        for kind in draw(st.lists(st.sampled_from(["linear", "dropout", "softmax"]), min_size=1,
                                  max_size=3)):
            if kind == "linear":
                out, bias = draw(st.integers(1, 10)), draw(st.booleans())
                args = {"out": out}
                _maybe(draw, args, "bias", bias, True)
                _maybe(draw, args, "relu", draw(st.booleans()), False)
                layers.append({"linear": args})
                params += features * out + (out if bias else 0)
                macs += features * out
                features, flat = out, True
            elif kind == "dropout":
                layers.append({"dropout": {"p": 0.5}})
            else:
                layers.append({"softmax": None if draw(st.booleans()) else {}})
        rows.append({"name": name, "type": "classifier", "layers": layers})
        counts.append((params, macs))
        shape = (features, 1, 1) if flat else shape
    data["rows"] = rows
    heads = []
    for name in names[n_spatial + 3:]:
        after = draw(st.integers(0, n_spatial - 1))
        part = draw(sequence(spatial[after], defaults, longest=2))
        out = draw(st.integers(1, 6))
        features = part.shape[0] * part.shape[1] * part.shape[2]
        head = {"name": name, "after": rows[after]["name"],
                "layers": part.layers + [{"linear": {"out": out}}]}
        if draw(st.booleans()):
            head["loss_weight"] = 0.3
        heads.append(head)
        counts.append((part.params + features * out + out, part.macs + features * out))
    if heads:
        data["aux"] = heads
    return Net(data, counts, len(heads))


def _printed(draw, row: dict, part: Part) -> None:
    """The paper's printed columns, right (or wrong, with a deviation that says so)."""
    c, h, w = part.shape
    choice = draw(st.sampled_from(["none", "right", "right", "deviation"]))
    if choice == "none":
        return
    wrong = choice == "deviation"
    row["output_size"] = f"{h}x{w}x{c + wrong}" if draw(st.booleans()) else f"{h}×{w}×{c + wrong}"
    if wrong:
        row["deviation"] = draw(NAME)
    if draw(st.booleans()):
        row["depth"] = part.depth
    if part.windows and draw(st.booleans()):
        row["patch"] = draw(st.sampled_from(part.windows))
    if draw(st.booleans()):
        row["params"] = draw(st.sampled_from(["2.7K", "34M", 112, "0.5", "1G"]))
        row["ops"] = draw(st.sampled_from(["360M", 1000, "1.5K"]))
