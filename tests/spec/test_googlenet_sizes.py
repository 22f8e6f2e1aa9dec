"""GoogLeNet at 224, 256 and 320: the torchvision flavour against torchvision's architecture, and the
paper flavour against Caffe's pooling rules. Every expected figure is derived here by formula."""

import math

import pytest
from conftest import TABLE1_MODULES

from incprof.analysis.profile import profile_records
from incprof.spec.layers import AdaptiveAvgPool, Pool
from incprof.spec.shapes import layer_out_shape, place, walk
from incprof.spec.registry import load, resolve

SIZES = (224, 256, 320)


def conv_out(n, k, s=1, p=0):
    return (n + 2 * p - k) // s + 1


def torch_ceil_pool(n, k, s, p=0):
    """torch's pooling_output_shape with ceil_mode=True (aten/src/ATen/native/Pool.h): the last
    window must start inside the input or its left padding, whatever the padding."""
    out = math.ceil((n + 2 * p - k) / s) + 1
    return out - 1 if (out - 1) * s >= n + p else out


def caffe_pool(n, k, s, p=0):
    """Caffe's PoolingLayer::Reshape (round_mode CEIL, the default for every pooling method):
    the last window is dropped only when there is padding."""
    out = math.ceil((n + 2 * p - k) / s) + 1
    return out - 1 if p and (out - 1) * s >= n + p else out


# ------------------------------------------------------------------ torchvision/models/googlenet.py
# BasicConv2d = Conv2d(bias=False) + BatchNorm2d(eps=0.001) + ReLU: k*k*cin*cout weights, 2*cout BN
# params. conv1 7x7/2 pad 3, maxpool1 3/2 ceil, conv2 1x1 64, conv3 3x3 192, maxpool2 3/2 ceil,
# 3a 3b, maxpool3 3/2 ceil, 4a-4e, maxpool4 2/2 ceil, 5a 5b, AdaptiveAvgPool2d((1, 1)), dropout,
# fc 1024 -> 1000. Inception: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 (the "5x5" branch, pytorch/vision#906)
# | maxpool 3/1 pad 1 ceil -> 1x1. InceptionAux: F.adaptive_avg_pool2d(x, (4, 4)), conv 1x1 128,
# fc1 2048 -> 1024, fc2 1024 -> 1000.
def _module_weights(cin, c1, c3r, c3, c5r, c5, pp):
    return cin * c1 + cin * c3r + 9 * c3r * c3 + cin * c5r + 9 * c5r * c5 + cin * pp


def _module_params(cin, c1, c3r, c3, c5r, c5, pp):
    return _module_weights(cin, c1, c3r, c3, c5r, c5, pp) + 2 * (c1 + c3r + c3 + c5r + c5 + pp)


def torchvision_params():
    stem = (7 * 7 * 3 * 64 + 2 * 64) + (64 * 64 + 2 * 64) + (9 * 64 * 192 + 2 * 192)
    modules = sum(_module_params(*m[:7]) for m in TABLE1_MODULES.values())
    return stem + modules + 1024 * 1000 + 1000


def torchvision_aux_params(cin):
    return cin * 128 + 2 * 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000


def torchvision_grids(side):
    """Grid sides: conv1 output, then the inputs of conv2/3, the 3x, 4x and 5x modules."""
    g1 = conv_out(side, 7, 2, 3)
    g2 = torch_ceil_pool(g1, 3, 2)
    g3 = torch_ceil_pool(g2, 3, 2)
    g4 = torch_ceil_pool(g3, 3, 2)
    g5 = torch_ceil_pool(g4, 2, 2)
    return g1, g2, {"3": g3, "4": g4, "5": g5}


def torchvision_macs(side):
    g1, g2, grid = torchvision_grids(side)
    macs = 7 * 7 * 3 * 64 * g1 ** 2 + (64 * 64 + 9 * 64 * 192) * g2 ** 2
    for name, m in TABLE1_MODULES.items():
        macs += _module_weights(*m[:7]) * grid[name[len("inception_")]] ** 2
    return macs + 1024 * 1000


def torchvision_aux_macs(cin):
    return cin * 128 * 4 * 4 + 2048 * 1024 + 1024 * 1000


def test_torchvision_formula_reproduces_the_published_figures():
    # torchvision GoogLeNet_Weights.IMAGENET1K_V1 meta: num_params 6,624,904 (aux heads removed),
    # _ops 1.498 (GFLOPS in its docs, conv and linear multiply-adds at 224x224; pytorch/vision#6936)
    assert torchvision_params() == 6_624_904
    assert round(torchvision_macs(224) / 1e9, 3) == 1.498
    # the default constructor keeps both aux heads: the 13.00M most counters print for it
    assert torchvision_params() + torchvision_aux_params(512) + torchvision_aux_params(528) \
        == 13_004_888


@pytest.mark.parametrize("side", SIZES)
def test_torchvision_flavour_counts_at_every_size(side):
    df = profile_records("googlenet", flavor="torchvision", input_size=(side, side)).to_frame()
    t, rows = df.attrs["totals"], df.set_index("row")
    assert t["params"] == torchvision_params()
    assert t["params_with_aux"] == (torchvision_params() + torchvision_aux_params(512)
                                    + torchvision_aux_params(528))
    assert t["macs"] == torchvision_macs(side)
    assert rows.loc["aux1", "macs"] == torchvision_aux_macs(512)
    assert rows.loc["aux2", "macs"] == torchvision_aux_macs(528)
    assert rows.loc["avgpool", "output_size"] == "1x1x1024"


@pytest.mark.parametrize("side", SIZES)
def test_torchvision_flavour_built_and_measured(side):
    torch = pytest.importorskip("torch")
    from incprof.nn.build import build
    from incprof.nn.crosscheck import measure

    spec = load("googlenet", "torchvision")
    model = build(spec, (side, side))
    assert sum(p.numel() for p in model.parameters()) == (
        torchvision_params() + torchvision_aux_params(512) + torchvision_aux_params(528))
    measured = measure(spec, (side, side))
    assert sum(m.macs for name, m in measured.items() if not name.startswith("aux")) \
        == torchvision_macs(side)
    assert measured["aux1"].macs == torchvision_aux_macs(512)
    # the aux head's pool is adaptive: 4x4 after inception_4a whatever the input size
    grid4 = torchvision_grids(side)[2]["4"]
    with torch.no_grad():
        pooled = model.row("aux1")[0](torch.zeros(1, 512, grid4, grid4))
    assert tuple(pooled.shape) == (1, 512, 4, 4)


# ------------------------------------------------------------------------ the paper flavour (Caffe)
def caffe_grids(side):
    """BVLC GoogLeNet's grid sides (train_val.prototxt): conv1 7x7/2 pad 3, pools 3x3/2 in CEIL mode."""
    g = caffe_pool(conv_out(side, 7, 2, 3), 3, 2)  # pool1
    g = caffe_pool(g, 3, 2)  # pool2 -> 3a
    g4 = caffe_pool(g, 3, 2)  # pool3 -> 4a
    return g4, caffe_pool(g4, 3, 2)  # pool4 -> 5a


@pytest.mark.parametrize("side", SIZES)
def test_paper_aux_and_final_pools_follow_caffe(side):
    spec = resolve("googlenet")
    placed = {p.name: p for p in place(spec, (side, side))}
    g4, g5 = caffe_grids(side)
    aux = caffe_pool(g4, 5, 3)  # loss1/ave_pool, 5x5/3
    for name, width in (("aux1", 512), ("aux2", 528)):
        head = placed[name]
        steps, _ = walk(head.layers, head.in_shape)
        assert steps[0][2] == (width, aux, aux)
    main = caffe_pool(g5, 7, 1)  # pool5/7x7_s1
    assert placed["avgpool"].out_shape == (1024, main, main)


def test_paper_aux_maps_at_the_three_sizes():
    # Caffe's rule by hand: 14 -> ceil(9/3)+1 = 4, 16 -> ceil(11/3)+1 = 5, 20 -> ceil(15/3)+1 = 6
    assert [caffe_pool(caffe_grids(s)[0], 5, 3) for s in SIZES] == [4, 5, 6]
    # floor rounding would give 4x4 at 256
    assert conv_out(caffe_grids(256)[0], 5, 3) == 4


def test_spec_pool_rule_is_torchs_and_caffes_where_they_agree():
    torch = pytest.importorskip("torch")
    for n in range(3, 12):
        for k in range(1, 6):
            for s in range(1, 5):
                for p in range(0, k // 2 + 1):
                    if n + 2 * p < k:
                        continue
                    pool = Pool("avg", (k, k), (s, s), (p, p), ceil_mode=True)
                    ours = layer_out_shape(pool, (1, n, n))[1]
                    built = torch.nn.AvgPool2d(k, s, p, ceil_mode=True)(torch.zeros(1, 1, n, n))
                    assert ours == built.shape[-1] == torch_ceil_pool(n, k, s, p)
                    if s <= k or p:  # Caffe differs only with no padding and stride > kernel
                        assert ours == caffe_pool(n, k, s, p), (n, k, s, p)


def test_adaptive_pool_shape_and_build():
    torch = pytest.importorskip("torch")
    from incprof.nn.build import BUILD_RULES

    for n, size in ((14, (4, 4)), (16, (4, 2)), (3, (5, 5))):
        layer = AdaptiveAvgPool(size)
        shape = layer_out_shape(layer, (7, n, n))
        out = BUILD_RULES[type(layer)](layer, (7, n, n), False)(torch.zeros(1, 7, n, n))
        assert shape == (7, *size) == tuple(out.shape[1:])
