"""Spec rewrites: the torchvision flavour, factorization rules and grid reductions."""

import pytest

from incprof.analytic import count_spec
from incprof.errors import SpecError
from incprof.spec import LRN, Conv, Pool, leaves, resolve
from incprof.variants import apply_flavor


def test_torchvision_flavour_rewrites():
    spec = apply_flavor(resolve("googlenet"), "torchvision")
    found = [leaf for item in (*spec.rows, *spec.aux) for leaf in leaves(item.layers)]
    convs = [leaf for leaf in found if isinstance(leaf, Conv)]
    assert all(not c.bias and c.bn_eps == 1e-3 for c in convs)
    assert not any(isinstance(leaf, LRN) for leaf in found)
    assert {c.kernel for c in convs if c.role == "ch5x5"} == {(3, 3)}
    assert spec.row("pool4").layers == (Pool("max", (2, 2), (2, 2), ceil_mode=True),)
    assert spec.row("dropout").layers[0].p == 0.2
    assert spec.name == "googlenet[torchvision]"


def test_torchvision_flavour_counts():
    rows = {rc.placed.name: rc.counts for rc in count_spec(apply_flavor(resolve("googlenet"), "torchvision"))}
    main = [c for name, c in rows.items() if not name.startswith("aux")]
    assert sum(c.params for c in main) == 6_624_904
    # 3a with 3x3 in the "5x5" branch, no biases, BN scale+shift per output channel
    w = 192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 9 * 16 * 32 + 192 * 32
    assert rows["inception_3a"].params == w + 2 * (64 + 96 + 128 + 16 + 32 + 32)
    assert rows["inception_3a"].macs == w * 28 * 28


def test_paper_flavour_is_identity():
    spec = resolve("googlenet")
    assert apply_flavor(spec, "paper") is spec


def test_unknown_flavour():
    with pytest.raises(SpecError, match="unknown flavour"):
        apply_flavor(resolve("googlenet"), "caffe")


# ---- factorization rules
from incprof.spec import place  # noqa: E402
from incprof.variants import (factor_asymmetric, factor_stack, factorize, factorized,  # noqa: E402
                              factorized_asym)


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
from incprof.variants import grid_reduction  # noqa: E402


@pytest.mark.parametrize("form, macs", [
    ("conv_then_pool", lambda k, d: 9 * k * 2 * k * d * d),
    ("pool_then_conv", lambda k, d: 9 * k * 2 * k * (d // 2) ** 2),
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


@pytest.mark.parametrize("arch", ["inception_v3", "xception", "inception_resnet_v2"])
@pytest.mark.parametrize("variant", ["naive", "reduced"])
def test_v1_variants_refuse_networks_without_v1_modules(arch, variant):
    """naive and reduced rewrite Table 1's filter-column modules; elsewhere they are an error, not
    the network unchanged."""
    from incprof.variants import VARIANTS

    with pytest.raises(SpecError, match=f"the {variant} variant rewrites GoogLeNet-style modules"):
        VARIANTS[variant](resolve(arch))


def test_grid_reduction_and_factorization_say_when_nothing_matches():
    from incprof.variants import VARIANTS

    with pytest.raises(SpecError, match="has none"):
        VARIANTS["grid_parallel"](resolve("xception"))
    with pytest.raises(SpecError, match="matched no 5x5 conv in xception") as info:
        VARIANTS["factorized"](resolve("xception"))
    assert str(info.value).startswith(str(resolve("xception").path))
