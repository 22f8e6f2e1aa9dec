"""The rest of the Inception family: BN-Inception and Inception-v4, against published counts and
formulas typed from the papers' figures (not read from the YAML)."""

from incprof.count.analytic import count_spec
from incprof.spec.shapes import format_shape
from incprof.spec.registry import resolve
from incprof.spec.variants import apply_flavor


def _rows(name: str, flavor: str = "paper") -> dict:
    return {rc.placed.name: rc for rc in count_spec(apply_flavor(resolve(name), flavor))}


def _bn_conv(cin: int, cout: int, k: int = 1, bias: bool = False) -> int:
    """Params of a k x k conv followed by BatchNorm (scale and shift per channel)."""
    return k * k * cin * cout + (cout if bias else 0) + 2 * cout


# BN-Inception, Figure 5 of arXiv:1502.03167: #1x1, #3x3 reduce, #3x3, double #3x3 reduce,
# double #3x3, pool proj (None: pass-through), and the module's input channels per the filter columns.
FIGURE5 = {
    "inception_3a": (192, 64, 64, 64, 64, 96, 32),
    "inception_3b": (256, 64, 64, 96, 64, 96, 64),
    "inception_3c": (320, 0, 128, 160, 64, 96, None),
    "inception_4a": (576, 224, 64, 96, 96, 128, 128),
    "inception_4b": (576, 192, 96, 128, 96, 128, 128),
    "inception_4c": (576, 160, 128, 160, 128, 160, 128),
    "inception_4d": (608, 96, 128, 192, 160, 192, 128),
    "inception_4e": (608, 0, 128, 192, 192, 256, None),
    "inception_5a": (1056, 352, 192, 320, 160, 224, 128),
    "inception_5b": (1024, 352, 192, 320, 192, 224, 128),
}


def _module_params(cin, c1, r3, c3, rd, cd, proj, bias=False) -> int:
    total = _bn_conv(cin, r3, 1, bias) + _bn_conv(r3, c3, 3, bias)
    total += _bn_conv(cin, rd, 1, bias) + _bn_conv(rd, cd, 3, bias) + _bn_conv(cd, cd, 3, bias)
    total += _bn_conv(cin, c1, 1, bias) if c1 else 0
    return total + (_bn_conv(cin, proj, 1, bias) if proj else 0)


def test_bn_inception_modules_follow_the_filter_columns():
    rows = _rows("bn_inception")
    for name, (cin, c1, r3, c3, rd, cd, proj) in FIGURE5.items():
        placed = rows[name].placed
        assert placed.in_shape[0] == cin, name
        out = c1 + c3 + cd + (proj if proj else cin)
        assert placed.out_shape[0] == out, name
        assert rows[name].counts.params == _module_params(cin, c1, r3, c3, rd, cd, proj), name


def test_bn_inception_printed_depths_disagree_with_the_filter_columns():
    """4c and 4d print 576 channels, their columns give 608 (apache/mxnet#1643); 4e then gets 608."""
    spec = resolve("bn_inception")
    rows = _rows("bn_inception")
    for name in ("inception_4c", "inception_4d"):
        assert spec.row(name).printed.output_size == "14x14x576"
        assert format_shape(rows[name].placed.out_shape) == "14x14x608"
        assert spec.row(name).deviation
    assert format_shape(rows["inception_4e"].placed.out_shape) == "7x7x1056"


def test_bn_inception_first_conv_is_separable_with_multiplier_8():
    """Figure 5's footnote: a 7x7/2 depthwise conv with depth multiplier 8, then 1x1 to 64."""
    conv1 = _rows("bn_inception")["conv1"].counts
    depthwise, pointwise = 7 * 7 * 1 * 24, 24 * 64
    assert conv1.weights == depthwise + pointwise == 2712
    assert conv1.macs == (depthwise + pointwise) * 112 * 112


def test_bn_inception_caffe_port_has_cadenes_parameter_count():
    """Cadene's pretrained-models.pytorch `bninception` (models/bninception.py) has 11,295,240
    params: plain 7x7 first conv, a bias on every conv besides BatchNorm, linear 1024 -> 1000."""
    rows = _rows("bn_inception", "caffe")
    assert sum(rc.counts.params for rc in rows.values()) == 11_295_240
    stem = _bn_conv(3, 64, 7, True) + _bn_conv(64, 64, 1, True) + _bn_conv(64, 192, 3, True)
    modules = sum(_module_params(*columns, bias=True) for columns in FIGURE5.values())
    assert stem + modules + 1024 * 1000 + 1000 == 11_295_240


def test_inception_v4_has_timms_parameter_count():
    """timm's inception_v4 (timm/models/inception_v4.py) has 42,679,816 params (its results tables
    print 42.68M)."""
    rows = _rows("inception_v4")
    assert sum(rc.counts.params for rc in rows.values()) == 42_679_816


def test_inception_v4_grids_and_a_module_by_formula():
    """Figure 9's sizes, and Inception-A (Figure 4) at 35x35 by formula: conv params without bias,
    MACs = weights x 35 x 35."""
    rows = _rows("inception_v4")
    sizes = {name: format_shape(rc.placed.out_shape) for name, rc in rows.items()}
    assert (sizes["mixed_5a"], sizes["reduction_a"], sizes["reduction_b"], sizes["inception_c3"]) == \
        ("35x35x384", "17x17x1024", "8x8x1536", "8x8x1536")
    weights = 384 * 96 + (384 * 64 + 9 * 64 * 96) + (384 * 64 + 9 * 64 * 96 + 9 * 96 * 96) + 384 * 96
    channels = 96 + 64 + 96 + 64 + 96 + 96 + 96
    a = rows["inception_a1"].counts
    assert a.params == weights + 2 * channels
    assert a.macs == weights * 35 * 35
