"""Spec rewrites: the torchvision flavour, the named variants, one conv's stride and one pool
dropped, the v3 paper's low-resolution networks."""

import pytest

from incprof.count.analytic import count_spec
from incprof.errors import SpecError
from incprof.spec.layers import LRN, Conv, Pool, leaves
from incprof.spec.registry import resolve
from incprof.spec.variants import apply_flavor


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


@pytest.mark.parametrize("arch", ["inception_v3", "xception", "inception_resnet_v2"])
@pytest.mark.parametrize("variant", ["naive", "reduced"])
def test_v1_variants_refuse_networks_without_v1_modules(arch, variant):
    """naive and reduced rewrite Table 1's filter-column modules; elsewhere they are an error, not
    the network unchanged."""
    from incprof.spec.variants import VARIANTS

    with pytest.raises(SpecError, match=f"the {variant} variant rewrites GoogLeNet-style modules"):
        VARIANTS[variant](resolve(arch))


def test_grid_reduction_and_factorization_say_when_nothing_matches():
    from incprof.spec.variants import VARIANTS

    with pytest.raises(SpecError, match="has none"):
        VARIANTS["grid_parallel"](resolve("xception"))
    with pytest.raises(SpecError, match="matched no 5x5 conv in xception") as info:
        VARIANTS["factorized"](resolve("xception"))
    assert str(info.value).startswith(str(resolve("xception").path))
# ---- general rewrites: one conv's stride, one pool dropped
from conftest import DATA  # noqa: E402
from incprof.spec.variants import drop_pool, lowres, set_stride


def _rows(spec):
    return {rc.placed.name: rc for rc in count_spec(spec)}


def test_set_stride_changes_one_conv_and_the_shapes_after_it():
    spec = set_stride(resolve(str(DATA / "tiny.yaml")), "conv", 2)
    rows = _rows(spec)
    # 3x3 "same" conv (padding 1) at stride 2 on 8x8: (8 + 2 - 3) // 2 + 1 = 4
    assert rows["conv"].placed.out_shape == (4, 4, 4)
    assert rows["conv"].counts.macs == 4 * 4 * 9 * 3 * 4
    assert rows["pool"].placed.out_shape == (4, 2, 2)
    assert all(r.printed.output_size is None for r in spec.rows)  # printed sizes no longer apply


def test_set_stride_picks_one_conv_of_a_module():
    spec = set_stride(resolve("googlenet"), "inception_3a:ch1x1", 2)
    (branch_1x1,) = [c for c in leaves(spec.row("inception_3a").layers)
                     if isinstance(c, Conv) and c.role == "ch1x1"]
    assert branch_1x1.stride == (2, 2)
    assert set_stride(resolve("googlenet"), "inception_3a:1", 2).row("inception_3a") == \
        spec.row("inception_3a")  # the first conv of the row is its 1x1 branch
    with pytest.raises(SpecError, match="matches 6 of the row's 6 convs"):
        set_stride(resolve("googlenet"), "inception_3a", 2)
    with pytest.raises(SpecError, match="no row named"):
        set_stride(resolve("googlenet"), "nowhere", 2)
    with pytest.raises(SpecError, match="has no conv"):
        set_stride(resolve("googlenet"), "pool1", 2)


def test_drop_pool_removes_a_pool_row_and_moves_its_aux_head():
    spec = drop_pool(resolve(str(DATA / "tiny.yaml")), "pool")
    assert [r.name for r in spec.rows] == ["conv", "mixed", "gap", "fc"]
    assert spec.aux[0].after == "conv"
    rows = _rows(spec)
    # the module now runs on 8x8x4: weights 4*2 + 4*2 + 9*2*3 + 4*1 + 25*1*2 + 4*1 = 128
    assert rows["mixed"].counts.macs == 128 * 8 * 8
    # the head pools 8x8 to 4x4, so its linear layer reads 4*4*4 = 64 features
    assert rows["head"].counts.params == 64 * 3 + 3


def test_drop_pool_inside_a_module_keeps_the_row():
    base = resolve("googlenet")
    spec = drop_pool(base, "inception_3a")
    assert not any(isinstance(x, Pool) for x in leaves(spec.row("inception_3a").layers))
    assert _rows(spec)["inception_3a"].counts.macs == _rows(base)["inception_3a"].counts.macs
    with pytest.raises(SpecError, match="has no pool"):
        drop_pool(base, "conv1")


# ---- the v3 paper's low-resolution experiment (section 9)
def conv_macs(h, k, cin, cout):
    """A conv's MACs on an h x h output."""
    return h * h * k * k * cin * cout


def stem(h1, h2, h3, h4):
    """MACs of conv_1a .. conv_4a with output grids h1 (conv_1a), h2 (conv_2a, conv_2b), h3
    (conv_3b) and h4 (conv_4a), widths as in torchvision's Inception3."""
    return (conv_macs(h1, 3, 3, 32) + conv_macs(h2, 3, 32, 32) + conv_macs(h2, 3, 32, 64)
            + conv_macs(h3, 1, 64, 80) + conv_macs(h4, 3, 80, 192))


def a_module(cin, pool):
    """MACs per output position of a 35x35 module (Figure 5, torchvision's widths)."""
    return cin * 64 + cin * 48 + 25 * 48 * 64 + cin * 64 + 9 * 64 * 96 + 9 * 96 * 96 + cin * pool


def _main_macs(spec):
    return sum(rc.counts.macs for rc in count_spec(spec) if not rc.placed.is_aux)


def test_lowres_networks_against_hand_counts():
    base = resolve("inception_v3")
    total_299 = _main_macs(base)
    n151, n79 = lowres(base, 151), lowres(base, 79)
    r151, r79 = _rows(n151), _rows(n79)
    # 151 at stride 1: 151 - 2 = 149, the grid the 299 network gets from (299 - 3) / 2 + 1
    assert r151["conv_1a"].placed.out_shape == (32, 149, 149)
    assert r151["conv_1a"].counts.macs == conv_macs(149, 3, 3, 32)
    assert _main_macs(n151) == total_299
    # 79 at stride 1, no pool_1: 77, 75, 75, 75, 73, then pool_2 (3x3/2) gives 36
    assert "pool_1" not in r79 and r79["pool_2"].placed.out_shape == (192, 36, 36)
    assert sum(r79[n].counts.macs for n in ("conv_1a", "conv_2a", "conv_2b", "conv_3b",
                                            "conv_4a")) == stem(77, 75, 75, 73)
    # the 35x35 modules and mixed_6a's 1x1 and 3x3 run on 36x36 instead; the stride-2 convs
    # give 17x17 from both, so everything after mixed_6a is unchanged
    per_position = (a_module(192, 32) + a_module(256, 64) + a_module(288, 64)
                    + 288 * 64 + 9 * 64 * 96)
    expected = (total_299 - stem(149, 147, 73, 71) + stem(77, 75, 75, 73)
                + (36 * 36 - 35 * 35) * per_position)
    assert _main_macs(n79) == expected
    assert lowres(base, 299).input == base.input and _main_macs(lowres(base, 299)) == total_299


def test_lowres_needs_inception_v3():
    from incprof.analysis.compare import resolve_side

    assert resolve_side("lowres_79", "inception_v3").input == (3, 79, 79)
    with pytest.raises(SpecError, match="use --arch inception_v3"):
        resolve_side("lowres_79")
