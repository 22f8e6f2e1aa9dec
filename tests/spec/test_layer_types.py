"""Every layer type has an entry in every per-type table: parsing, shapes, depth, counts, MAC classes,
receptive fields, peak memory, the memory estimate and the builder; a type a table lacks is an
error, never free."""

import dataclasses
import typing

import pytest

from incprof.count import analytic
from incprof.count import geometry
from incprof.count import limits
from incprof.count import inventory as ops
from incprof.spec import parse
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
        "mac class": analytic.conv_kind,
        "receptive field": lambda layer: geometry.layer_field(layer, geometry.Field(), SHAPE),
        "memory estimate": lambda layer: limits.estimate_bytes(_spec(layer)),
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
        "parse": {kind for kind, _, _ in parse.LAYER_PARSERS.values()},
        "shapes": shapes.SHAPE_RULES, "depth": shapes.DEPTH_RULES,
        "counts": analytic.COUNT_RULES, "mac class": analytic.MAC_CLASSES,
        "receptive field": geometry.FIELD_RULES, "peak memory": geometry.PEAK_RULES,
        "memory estimate": limits.TEMPORARY_RULES, "referee ops": ops.OP_RULES,
    }
    try:
        from incprof.nn import build
    except ImportError:  # no torch: the builder is checked where torch is installed
        return tables
    tables["build"] = build.BUILD_RULES
    return tables


@pytest.mark.parametrize("table", list(_tables()))
def test_every_table_names_every_layer_type(table):
    """Adding a layer type means one entry in each of these tables, and this test lists any
    table that lacks it."""
    assert set(_tables()[table]) == set(layers.LAYER_TYPES)


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
