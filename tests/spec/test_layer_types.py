"""Every layer type has an entry in every per-type table: parsing, shapes, depth, counts, receptive
fields, peak memory, the memory estimate, the op inventory, the builder and the exporter (or a
declared reason why the exporter cannot write it); the types with MACs have a MAC class; a type a
table lacks is an error, never free."""

import dataclasses
import importlib
import pkgutil
import typing

import pytest

from incprof.count import analytic
from incprof.count import geometry
from incprof.count import limits
from incprof.count import training
from incprof.nn import predict
import incprof
from incprof.capture import export_layers
from incprof.count import inventory as ops
from incprof.spec import layer_reader, parse
from incprof.spec import shapes
from incprof.spec import layers, registry
from incprof.spec.layers import (LRN, AdaptiveAvgPool, Branches, Conv, Dropout, GlobalAvgPool, Linear, Pool,
                                 ReLU, Residual, Separable, Softmax)
from incprof.spec.model import ArchSpec, Row

# One instance of each layer type, on a 4x6x6 input.
EXAMPLES = {
    Conv: Conv(out=8, kernel=(3, 3), padding=(1, 1)),
    Pool: Pool("max", (2, 2), (2, 2)),
    GlobalAvgPool: GlobalAvgPool(),
    AdaptiveAvgPool: AdaptiveAvgPool((4, 4)),
    LRN: LRN(size=3),
    Dropout: Dropout(p=0.5),
    Linear: Linear(out=5),
    Softmax: Softmax(),
    Branches: Branches(((Conv(out=2, kernel=(1, 1)),), (Pool("max", (3, 3), (1, 1), (1, 1)),))),
    Separable: Separable(out=8, kernel=(3, 3), padding=(1, 1), multiplier=2),
    ReLU: ReLU(),
    Residual: Residual(body=(Conv(out=4, kernel=(3, 3), padding=(1, 1)),), scale=0.2, relu=True),
}
SHAPE = (4, 6, 6)


@dataclasses.dataclass(frozen=True)
class Unknown:
    """A layer type that no rule knows (a sentinel)."""

    line: int = 0


def _spec(layer) -> ArchSpec:
    return ArchSpec(name="one", title="one", source="test", input=SHAPE,
                    rows=(Row(name="r", type="r", layers=(layer,)),))


def _rules():
    rules = {
        "shape": lambda layer: shapes.layer_out_shape(layer, SHAPE),
        "counts": lambda layer: analytic.layer_counts(layer, SHAPE,
                                                      shapes.layer_out_shape(layer, SHAPE)),
        "mac class": lambda layer: analytic.layer_macs_by_kind(layer, SHAPE,
                                                               shapes.layer_out_shape(layer, SHAPE)),
        "receptive field": lambda layer: geometry.layer_field(layer, geometry.Field(), SHAPE),
        "memory estimate": lambda layer: limits.estimate_bytes(_spec(layer)),
        "training step": lambda layer: training.step_spec(_spec(layer)),
        "latency model": lambda layer: predict.rule(predict.KERNEL_RULES, layer)(
            layer, SHAPE, shapes.layer_out_shape(layer, SHAPE)),
    }
    try:
        from incprof.nn import build
    except ImportError:  # no torch: the builder is checked where torch is installed
        return rules
    rules["build"] = lambda layer: build._sequence((layer,), SHAPE, False)
    return rules


def test_every_layer_type_has_an_example():
    assert set(EXAMPLES) == set(typing.get_args(layers.Layer)) == set(layers.LAYER_TYPES)


def _tables() -> dict:
    tables = {
        "parse": {kind for kind, _, _ in layer_reader.LAYER_PARSERS.values()},
        "shapes": shapes.SHAPE_RULES, "depth": shapes.DEPTH_RULES,
        "counts": analytic.COUNT_RULES,
        "receptive field": geometry.FIELD_RULES, "peak memory": geometry.PEAK_RULES,
        "memory estimate": limits.TEMPORARY_RULES, "referee ops": ops.OP_RULES,
        "training step": training.STEP_RULES,
        "export": {**export_layers.EXPORTED, **export_layers.NOT_EXPORTED},
        "latency model": predict.KERNEL_RULES,
    }
    try:
        from incprof.nn import build
    except ImportError:  # no torch: the builder is checked where torch is installed
        return tables
    tables["build"] = build.BUILD_RULES
    return tables


# A value for each YAML layer key that no layer type has as its default (relu: the type's default
# flipped); a key added to a layer type needs one here.
SAMPLES = {"out": 8, "kernel": 3, "size": 2, "p": 0.5, "body": [{"relu": {}}], "stride": 2,
           "padding": 1, "groups": 2, "bias": False, "bn_eps": 0.001, "role": "x", "multiplier": 2,
           "ceil_mode": True, "count_include_pad": False, "alpha": 0.5, "beta": 0.5, "k": 2.0,
           "shortcut": [{"relu": {}}], "scale": 0.5}


@pytest.mark.parametrize("op", list(layer_reader.LAYER_PARSERS))
def test_every_key_the_parser_takes_is_read(op):
    """The parser's keys come from the layer's dataclass: each optional key, given, changes the
    layer it makes (a key taken but not read would be silently ignored)."""
    reader = layer_reader.LAYER_PARSERS[op]
    if reader.keys is None:
        return
    required, optional = reader.keys
    base = {key: SAMPLES[key] for key in required}
    plain = parse.Parser("t").layer({op: base}, 1)
    assert type(plain) is reader.type
    for key in optional:
        value = not getattr(plain, key) if key == "relu" else SAMPLES[key]
        assert getattr(parse.Parser("t").layer({op: {**base, key: value}}, 1), key) != \
            getattr(plain, key), key


@pytest.mark.parametrize("table", list(_tables()))
def test_every_table_names_every_layer_type(table):
    """Adding a layer type means one entry in each of these tables, and this test lists any
    table that lacks it."""
    assert set(_tables()[table]) == set(layers.LAYER_TYPES)


def test_the_exporter_writes_a_type_or_says_why_not():
    assert not set(export_layers.EXPORTED) & set(export_layers.NOT_EXPORTED)
    assert all(reason.strip() for reason in export_layers.NOT_EXPORTED.values())
    # every op a type is exported from has a writer
    written = set(export_layers.WRITERS) | set(export_layers.COMBINERS)
    assert {op for found in export_layers.EXPORTED.values() for op in found} <= written


def _example_net(kind) -> tuple:
    """The example of a layer type as a sequence the exporter can read (a softmax over classes
    needs a flat input: a linear layer before it)."""
    return (Linear(out=5), EXAMPLES[kind]) if kind is Softmax else (EXAMPLES[kind],)


@pytest.mark.parametrize("kind", list(export_layers.EXPORTED), ids=lambda kind: kind.__name__)
def test_the_exporter_writes_each_type_it_declares(kind):
    """Built with torch and exported, each exported type's example reads back as itself."""
    pytest.importorskip("torch")
    from incprof.capture.export import export_spec
    from incprof.nn.build import build

    spec = ArchSpec(name="one", title="one", source="test", input=SHAPE,
                    rows=(Row(name="r", type="r", layers=_example_net(kind)),))
    exported = registry.parse_spec(export_spec(build(spec), SHAPE[1:], channels=SHAPE[0]), "one")
    assert tuple(layer for row in exported.rows for layer in row.layers) == _example_net(kind)


@pytest.mark.parametrize("kind", list(export_layers.NOT_EXPORTED), ids=lambda kind: kind.__name__)
def test_a_type_the_exporter_cannot_write_is_refused(kind):
    pytest.importorskip("torch")
    from incprof.capture.export import export_spec
    from incprof.errors import UsageError
    from incprof.nn.build import build

    spec = ArchSpec(name="one", title="one", source="test", input=SHAPE,
                    rows=(Row(name="r", type="r", layers=(EXAMPLES[kind],)),))
    with pytest.raises(UsageError, match="cannot be written as a spec: node "):
        export_spec(build(spec), SHAPE[1:], channels=SHAPE[0])


# The examples' MACs by class on 4x6x6, worked out by hand (k_h * k_w * C_in / groups * C_out * H * W).
MAC_CLASSES = {
    Conv: {"n x n conv": 3 * 3 * 4 * 8 * 6 * 6},
    Separable: {"n x n conv": 3 * 3 * (4 * 2) * 6 * 6, "1x1 conv": (4 * 2) * 8 * 6 * 6},
    Linear: {"linear": 4 * 6 * 6 * 5},
    Branches: {"1x1 conv": 4 * 2 * 6 * 6},
    Residual: {"n x n conv": 3 * 3 * 4 * 4 * 6 * 6},
}


@pytest.mark.parametrize("kind", list(EXAMPLES), ids=lambda kind: kind.__name__)
def test_mac_classes(kind):
    layer = EXAMPLES[kind]
    out = shapes.layer_out_shape(layer, SHAPE)
    assert analytic.layer_macs_by_kind(layer, SHAPE, out) == MAC_CLASSES.get(kind, {})


def test_only_the_types_with_macs_have_a_mac_class():
    assert set(analytic.MAC_CLASSES) == set(MAC_CLASSES)


def test_every_table_keyed_by_layer_type_is_checked():
    """A dict keyed by layer types anywhere in incprof is one of the tables above (a new concern's
    table included), or one that holds only some types by design: the MAC classes and the two
    halves of the exporter's."""
    pytest.importorskip("torch")  # incprof.nn.build
    checked = {id(table) for table in _tables().values()} | {
        id(analytic.MAC_CLASSES), id(export_layers.EXPORTED), id(export_layers.NOT_EXPORTED)}
    unchecked = []
    for found in pkgutil.walk_packages(incprof.__path__, "incprof."):
        if found.name.endswith("__main__"):  # runs the app
            continue
        for name, value in vars(importlib.import_module(found.name)).items():
            if isinstance(value, dict) and value and set(value) <= set(layers.LAYER_TYPES) and \
                    id(value) not in checked:
                unchecked.append(f"{found.name}.{name}")
    assert unchecked == []


@pytest.mark.parametrize("rule", list(_rules()))
def test_every_layer_type_has_a_rule(rule):
    fn = _rules()[rule]
    for layer in EXAMPLES.values():
        fn(layer)  # raises TypeError for a type the rule does not name


@pytest.mark.parametrize("rule", [r for r in _rules() if r != "memory estimate"])
def test_an_unknown_layer_type_is_an_error_not_free(rule):
    fn = _rules()[rule]
    if rule == "counts":
        fn = lambda layer: analytic.layer_counts(layer, SHAPE, SHAPE)  # noqa: E731
    with pytest.raises(TypeError, match="Unknown"):
        fn(Unknown())


def test_unknown_layer_in_a_spec_is_an_error_everywhere():
    with pytest.raises(TypeError, match="Unknown"):
        limits.estimate_bytes(_spec(Unknown()))


def test_adaptive_pool_counts_and_field():
    layer = AdaptiveAvgPool((4, 4))
    # one op per input element, as fvcore's handle for aten::adaptive_avg_pool2d counts it
    counts = analytic.layer_counts(layer, (3, 14, 14), (3, 4, 4))
    assert counts == analytic.Counts(other_ops=3 * 14 * 14)
    # torch's windows on 14 -> 4: [0, 4), [3, 7), [7, 11), [10, 14): largest 4, steps 3, 4, 3
    assert geometry.adaptive_window(14, 4) == (4, 4)
    # 16 -> 4 tiles exactly: window 4, step 4; one output: the whole axis
    assert geometry.adaptive_window(16, 4) == (4, 4) and geometry.adaptive_window(7, 1) == (7, 7)
    field = geometry.layer_field(layer, geometry.Field((3, 3), (2, 2)), (3, 14, 14))
    assert field == geometry.Field((3 + 3 * 2, 3 + 3 * 2), (8, 8))
    # size 1 is the global pool
    g = geometry.layer_field(AdaptiveAvgPool((1, 1)), geometry.Field((3, 3), (2, 2)), (3, 7, 7))
    assert g == geometry.layer_field(GlobalAvgPool(), geometry.Field((3, 3), (2, 2)), (3, 7, 7))


@pytest.mark.peers
def test_adaptive_pool_other_ops_agree_with_fvcore():
    torch = pytest.importorskip("torch")
    from fvcore.nn import FlopCountAnalysis

    for n in (14, 16):
        analysis = FlopCountAnalysis(torch.nn.AdaptiveAvgPool2d((4, 4)), torch.zeros(1, 3, n, n))
        analysis.unsupported_ops_warnings(False)
        ours = analytic.layer_counts(AdaptiveAvgPool((4, 4)), (3, n, n), (3, 4, 4)).other_ops
        assert analysis.by_operator()["adaptive_avg_pool2d"] == ours == 3 * n * n


def test_adaptive_pool_parses(write_spec):
    path = write_spec("name: t\ninput: [3, 9, 9]\nrows:\n"
                      "  - {name: a, type: pool, layers: [{adaptive_avgpool: {size: [4, 2]}}]}\n"
                      "  - {name: b, type: pool, layers: [{adaptive_avgpool: {size: 1}}]}\n")
    parsed = registry.load_spec(path)
    assert parsed.rows[0].layers == (AdaptiveAvgPool((4, 2)),)
    assert [p.out_shape for p in shapes.place(parsed)] == [(3, 4, 2), (3, 1, 1)]
