"""Spec rewrites: the torchvision flavour."""

import pytest

from incprof.analytic import count_spec
from incprof.errors import SpecError
from incprof.spec import LRN, Branches, Conv, Pool, resolve
from incprof.variants import apply_flavor, torchvision_flavor


def _leaves(layers):
    for layer in layers:
        if isinstance(layer, Branches):
            for branch in layer.branches:
                yield from _leaves(branch)
        else:
            yield layer


def test_torchvision_flavour_rewrites():
    spec = torchvision_flavor(resolve("googlenet"))
    leaves = [leaf for item in (*spec.rows, *spec.aux) for leaf in _leaves(item.layers)]
    convs = [leaf for leaf in leaves if isinstance(leaf, Conv)]
    assert all(not c.bias and c.bn_eps == 1e-3 for c in convs)
    assert not any(isinstance(leaf, LRN) for leaf in leaves)
    assert {c.kernel for c in convs if c.role == "ch5x5"} == {(3, 3)}
    assert spec.row("pool4").layers == (Pool("max", (2, 2), (2, 2), ceil_mode=True),)
    assert spec.row("dropout").layers[0].p == 0.2
    assert spec.name == "googlenet[torchvision]"


def test_torchvision_flavour_counts():
    rows = {rc.placed.name: rc.counts for rc in count_spec(torchvision_flavor(resolve("googlenet")))}
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
