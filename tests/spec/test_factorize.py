"""The v3 paper's rewrites on any spec: the factorization rules and the grid reductions."""

import pytest

from incprof.count.analytic import count_spec
from incprof.errors import SpecError
from incprof.spec.factorize import (factor_asymmetric, factor_stack, factorize, factorized,
                                    factorized_asym, grid_reduction)
from incprof.spec.layers import Conv
from incprof.spec.registry import resolve
from incprof.spec.shapes import place

# ---- factorization rules


def test_asymmetric_rule_splits_kernel_stride_and_padding():
    conv = Conv(out=32, kernel=(7, 7), stride=(2, 2), padding=(3, 3))
    first, second = factor_asymmetric(conv)
    assert (first.kernel, first.stride, first.padding) == ((1, 7), (1, 2), (0, 3))
    assert (second.kernel, second.stride, second.padding) == ((7, 1), (2, 1), (3, 0))
    with pytest.raises(SpecError, match="odd square kernel"):
        factor_asymmetric(Conv(out=4, kernel=(4, 4)))


def test_stack_rule_splits_padding():
    first, second = factor_stack(Conv(out=8, kernel=(5, 5), padding=(2, 2)))
    assert (first.kernel, first.padding, second.padding) == ((3, 3), (1, 1), (1, 1))
    first, second = factor_stack(Conv(out=8, kernel=(3, 3), padding=(1, 1)))
    assert (first.kernel, first.padding, second.padding) == ((2, 2), (1, 1), (0, 0))
    with pytest.raises(SpecError, match="stride-1"):
        factor_stack(Conv(out=8, kernel=(5, 5), stride=(2, 2)))


def test_factorized_googlenet_keeps_every_shape():
    base = resolve("googlenet")
    for variant in (factorized(base), factorized_asym(base)):
        assert [p.out_shape for p in place(variant)] == [p.out_shape for p in place(base)]


def test_factorized_counts_in_3a():
    rows = {rc.placed.name: rc.counts for rc in count_spec(factorized(resolve("googlenet")))}
    # 3a's 5x5 branch: 1x1 192->16, then 3x3 16->32 and 3x3 32->32 in place of 5x5 16->32
    w = 192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 9 * 16 * 32 + 9 * 32 * 32 + 192 * 32
    biases = 64 + 96 + 128 + 16 + 32 + 32 + 32
    assert rows["inception_3a"].params == w + biases
    assert rows["inception_3a"].macs == w * 28 * 28


def test_factorize_one_conv_by_role_or_index():
    base = resolve("googlenet")
    one = factorize(base, "asymmetric", 3, where="inception_4a:ch3x3")
    changed = [r.name for r, b in zip(one.rows, base.rows) if r.layers != b.layers]
    assert changed == ["inception_4a"]
    assert factorize(base, "asymmetric", 3, where="inception_4a:3").row("inception_4a") == \
        one.row("inception_4a")  # the 3rd conv of 4a, depth first, is its 3x3
    assert factorize(base, "asymmetric", 7, where="conv1").row("conv1").layers[0].kernel == (1, 7)
    with pytest.raises(SpecError, match="matched no 5x5 conv"):
        factorize(base, "stack", 5, where="conv2")
    with pytest.raises(SpecError, match="no row named"):
        factorize(base, "stack", 5, where="nowhere")
    with pytest.raises(SpecError, match="unknown rule"):
        factorize(base, "melt", 5)


def test_factorize_the_v3_network():
    v3 = resolve("inception_v3")
    variant = factorize(v3, "stack", 5, modules_only=True)
    assert [p.out_shape for p in place(variant)] == [p.out_shape for p in place(v3)]
    assert "5x5->2x3x3" in variant.name


# ---- grid reductions as spec rewrites


@pytest.mark.parametrize("form, macs", [
    ("conv then pool", lambda k, d: 9 * k * 2 * k * d * d),
    ("pool then conv", lambda k, d: 9 * k * 2 * k * (d // 2) ** 2),
    ("parallel", lambda k, d: 9 * k * k * (d // 2) ** 2),
])
def test_grid_reduction_rewrites_the_pools_before_modules(form, macs):
    base = resolve("googlenet")
    spec = grid_reduction(base, form)
    rows = {rc.placed.name: rc for rc in count_spec(spec)}
    for name, (k, d) in {"pool2": (192, 56), "pool3": (480, 28), "pool4": (832, 14)}.items():
        assert rows[name].counts.macs == macs(k, d), name
        assert rows[name].placed.out_shape == (2 * k, d // 2, d // 2)
    assert rows["pool1"].counts.macs == 0  # the stem pool feeds a conv, not a module
    assert rows["inception_3a"].placed.in_shape == (384, 28, 28)  # the wider output flows on


def test_grid_reduction_rejects_other_rows():
    with pytest.raises(SpecError, match="one stride-2 max pool"):
        grid_reduction(resolve("googlenet"), "parallel", rows=("inception_3a",))
    with pytest.raises(SpecError, match="unknown grid reduction form"):
        grid_reduction(resolve("googlenet"), "sideways")
