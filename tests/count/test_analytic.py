"""Analytic counts against formulas written out here and a spec worked by hand."""

import pytest

from conftest import DATA, TABLE1_MODULES
from incprof.count.analytic import Counts, count_spec
from incprof.spec.registry import load_spec, resolve


def conv(cin, cout, k, hw, bias=True):
    """(params, macs) of a k x k conv with an hw x hw output."""
    weights = k * k * cin * cout
    return weights + (cout if bias else 0), weights * hw * hw


def inception(cin, c1, c3r, c3, c5r, c5, pp, hw):
    """(params, macs) of a GoogLeNet module with 1x1 reductions (Figure 2b)."""
    parts = [conv(cin, c1, 1, hw), conv(cin, c3r, 1, hw), conv(c3r, c3, 3, hw),
             conv(cin, c5r, 1, hw), conv(c5r, c5, 5, hw), conv(cin, pp, 1, hw)]
    return sum(p for p, _ in parts), sum(m for _, m in parts)




@pytest.fixture(scope="module")
def googlenet():
    return {rc.placed.name: rc.counts for rc in count_spec(resolve("googlenet"))}


@pytest.mark.parametrize("name", TABLE1_MODULES)
def test_inception_modules_match_the_formula(googlenet, name):
    params, macs = inception(*TABLE1_MODULES[name])
    assert (googlenet[name].params, googlenet[name].macs) == (params, macs)


def test_3a_worked_example(googlenet):
    # 163,328 weights + 368 biases; 28 * 28 * 163,328 multiply-adds.
    assert googlenet["inception_3a"].weights == 163_328
    assert googlenet["inception_3a"].params == 163_328 + 368
    assert googlenet["inception_3a"].macs == 28 * 28 * 163_328 == 128_049_152


def test_stem_and_classifier(googlenet):
    assert (googlenet["conv1"].params, googlenet["conv1"].macs) == conv(3, 64, 7, 112)
    reduce, main = conv(64, 64, 1, 56), conv(64, 192, 3, 56)
    assert (googlenet["conv2"].params, googlenet["conv2"].macs) == (reduce[0] + main[0],
                                                                    reduce[1] + main[1])
    assert googlenet["conv2"].weights == 64 * 64 + 9 * 64 * 192 == 112 * 1024
    assert (googlenet["linear"].params, googlenet["linear"].macs) == (1024 * 1000 + 1000,
                                                                      1024 * 1000)
    for pool in ("pool1", "pool2", "pool3", "pool4", "avgpool", "dropout", "softmax"):
        assert googlenet[pool].params == googlenet[pool].macs == 0


def test_aux_heads(googlenet):
    for name, cin in (("aux1", 512), ("aux2", 528)):
        conv_p, conv_m = conv(cin, 128, 1, 4)
        fc1 = 128 * 4 * 4 * 1024
        fc2 = 1024 * 1000
        assert googlenet[name].params == conv_p + fc1 + 1024 + fc2 + 1000
        assert googlenet[name].macs == conv_m + fc1 + fc2


def test_other_ops_are_kept_apart(googlenet):
    # conv1: one ReLU op per output element; pool1: 9 reads per output + LRN of size 5 per element
    assert googlenet["conv1"].other_ops == 64 * 112 * 112
    assert googlenet["pool1"].other_ops == 9 * 64 * 56 * 56 + 5 * 64 * 56 * 56
    assert googlenet["avgpool"].other_ops == 49 * 1024


def test_tiny_spec_by_hand():
    counts = {rc.placed.name: rc.counts for rc in count_spec(load_spec(DATA / "tiny.yaml"))}
    # conv: 3*3*3*4 weights + 4 biases = 112; 108 weights * 8*8 outputs = 6912 MACs
    assert (counts["conv"].params, counts["conv"].macs) == (112, 6912)
    # mixed on 4x4x4: 1x1 4->2 (8+2), 1x1 4->2 (8+2), 3x3 2->3 (54+3), 1x1 4->1 (4+1),
    # 5x5 1->2 (50+2), pool proj 1x1 4->1 (4+1): 139 params; 128 weights * 16 = 2048 MACs
    assert (counts["mixed"].params, counts["mixed"].macs) == (139, 2048)
    # fc: 8*5 + 5 = 45 params, 40 MACs; head: 4*2*2 -> 3: 16*3 + 3 = 51 params, 48 MACs
    assert (counts["fc"].params, counts["fc"].macs) == (45, 40)
    assert (counts["head"].params, counts["head"].macs) == (51, 48)
    assert counts["pool"].params == counts["gap"].params == 0


def test_batchnorm_params():
    from incprof.count.analytic import layer_counts
    from incprof.spec.layers import Conv

    layer = Conv(out=32, kernel=(3, 3), bias=False, bn_eps=1e-3)
    counts = layer_counts(layer, (16, 10, 10), (32, 8, 8))
    assert counts.params == 9 * 16 * 32 + 2 * 32 and counts.weights == 9 * 16 * 32
    assert counts.other_ops == 32 * 8 * 8 * 3  # BN scale + shift, then ReLU, per element


def test_counts_that_would_overflow_int64_at_the_batch_size_are_refused_before_any_arithmetic():
    from incprof.errors import ResourceError
    from incprof.analysis.profile import profile_records
    from incprof.spec.model import ArchSpec, Row
    from incprof.spec.layers import Conv, Pool

    # one 16384x16384 channel widened to 2^20 channels by a 1x1 conv, then a 1x1/1 max pool: 2^48
    # activations per layer, 2^49 per image, under the 1e15 ceiling. Peak live values per image:
    # the pool's input and output, 2^49, so 2^49 * batch * 4 bytes, which is 2^63 at batch 4096.
    spec = ArchSpec("near", "near", "test", (1, 2**14, 2**14),
                    (Row("r", "t", (Conv(out=2**20, kernel=(1, 1)), Pool("max", (1, 1), (1, 1)))),))
    assert sum(rc.counts.activations for rc in count_spec(spec)) == 2**49 < 10**15
    (row,) = profile_records(spec, batch_size=1024).rows
    assert row["peak_activation_bytes"] == 2**49 * 1024 * 4
    assert row["macs"] == 2**48 * 1024
    # the check bounds the peak by twice the activations plus the input: 2^50 + 2^28 values
    # at 4 bytes each fit 64 bits at batch 1024 (2^62 + 2^40), not at 2048 or 4096
    for batch in (2048, 4096):
        with pytest.raises(ResourceError, match=f"at batch {batch} .* overflow 64-bit"):
            count_spec(spec, batch_size=batch)
        with pytest.raises(ResourceError, match="lower --batch-size"):
            profile_records(spec, batch_size=batch)


def test_counts_add_field_by_field():
    from dataclasses import astuple

    a, b = Counts(*range(1, 7)), Counts(*range(10, 70, 10))
    assert astuple(a + b) == (11, 22, 33, 44, 55, 66)  # every field summed, none left out
