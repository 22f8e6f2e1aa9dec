"""The tables added for the v3 paper's Table 3 and the family's ends: MobileNet v1, Inception-ResNet-v1,
Inception-v2 and BN-GoogLeNet, against formulas typed from the papers' tables and figures (not read
from the YAML)."""

from incprof.count.analytic import count_spec
from incprof.spec.registry import load


def _totals(name: str, flavor: str = "paper") -> tuple[int, int]:
    counted = [rc.counts for rc in count_spec(load(name, flavor, aux=False))]
    return sum(c.params for c in counted), sum(c.macs for c in counted)


def _bn_conv(cin: int, cout: int, k=1) -> tuple[int, int]:
    """Params (weights and BatchNorm's scale and shift) and MACs per output position of a
    bias-free k x k conv (k an int or (kh, kw)) followed by BatchNorm."""
    kh, kw = (k, k) if isinstance(k, int) else k
    return kh * kw * cin * cout + 2 * cout, kh * kw * cin * cout


# MobileNet Table 1 (arXiv:1704.04861): the 13 depthwise-separable pairs as (stride of the depthwise
# conv, output channels of the pointwise conv), on a 224 input after the 3x3/2 conv to 32.
MOBILENET = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), *[(1, 512)] * 5,
             (2, 1024), (1, 1024)]


def _mobilenet(alpha: float = 1.0, side: int = 224, dense: bool = False) -> tuple[int, int]:
    """MobileNet's params and MACs by Table 1 and Figure 3: BatchNorm after every conv, no biases,
    the last depthwise conv at stride 1 (as TF-slim builds it), an FC layer to 1000 with a bias."""
    width = [int(32 * alpha)] + [int(c * alpha) for _, c in MOBILENET]
    grid = side // 2
    params, macs = 27 * width[0] + 2 * width[0], 27 * width[0] * grid * grid
    for (stride, _), cin, cout in zip(MOBILENET, width, width[1:]):
        grid = grid // stride if stride == 2 else grid
        if dense:  # Table 4's "Conv MobileNet": one full 3x3 conv for each pair
            p, m = _bn_conv(cin, cout, 3)
            params, macs = params + p, macs + m * grid * grid
            continue
        depthwise = (9 * cin + 2 * cin, 9 * cin)
        pointwise = _bn_conv(cin, cout)
        params += depthwise[0] + pointwise[0]
        macs += (depthwise[1] + pointwise[1]) * grid * grid
    return params + width[-1] * 1000 + 1000, macs + width[-1] * 1000


def test_mobilenet_v1_by_its_table():
    assert _totals("mobilenet_v1") == _mobilenet()
    # timm's mobilenetv1_100 (tests/reference) has 4,231,976 parameters; the paper prints 4.2M.
    assert _totals("mobilenet_v1")[0] == 4_231_976


def test_mobilenet_multipliers_by_formula():
    from incprof.spec.multipliers import dense, resolution, width

    spec = load("mobilenet_v1", aux=False)
    for alpha in (0.75, 0.5, 0.25):
        counted = [rc.counts for rc in count_spec(width(spec, alpha))]
        assert (sum(c.params for c in counted), sum(c.macs for c in counted)) == _mobilenet(alpha)
    for side in (192, 160, 128):
        counted = [rc.counts for rc in count_spec(resolution(spec, side))]
        assert sum(c.macs for c in counted) == _mobilenet(side=side)[1]
    counted = [rc.counts for rc in count_spec(dense(spec))]
    assert (sum(c.params for c in counted), sum(c.macs for c in counted)) == _mobilenet(dense=True)


def _irv1() -> tuple[int, int]:
    """Inception-ResNet-v1 by Figures 7 and 10-15 of arXiv:1602.07261 at 299x299: each conv with
    BatchNorm, each block's final 1x1 "Linear" conv with a bias and none."""
    def convs(grid, *layers):
        p = m = 0
        for cin, cout, k in layers:
            cp, cm = _bn_conv(cin, cout, k)
            p, m = p + cp, m + cm * grid * grid
        return p, m

    def linear(grid, cin, cout):
        return cin * cout + cout, cin * cout * grid * grid

    parts = [convs(149, (3, 32, 3)), convs(147, (32, 32, 3), (32, 64, 3)),
             convs(73, (64, 80, 1)), convs(71, (80, 192, 3)), convs(35, (192, 256, 3))]
    block_a = [convs(35, (256, 32, 1), (256, 32, 1), (32, 32, 3), (256, 32, 1), (32, 32, 3),
                     (32, 32, 3)), linear(35, 96, 256)]
    reduction_a = [convs(17, (256, 384, 3), (192, 256, 3)), convs(35, (256, 192, 1), (192, 192, 3))]
    block_b = [convs(17, (896, 128, 1), (896, 128, 1), (128, 128, (1, 7)), (128, 128, (7, 1))),
               linear(17, 256, 896)]
    reduction_b = [convs(17, (896, 256, 1), (896, 256, 1), (896, 256, 1), (256, 256, 3)),
                   convs(8, (256, 384, 3), (256, 256, 3), (256, 256, 3))]
    block_c = [convs(8, (1792, 192, 1), (1792, 192, 1), (192, 192, (1, 3)), (192, 192, (3, 1))),
               linear(8, 384, 1792)]
    parts += 5 * block_a + reduction_a + 10 * block_b + reduction_b + 5 * block_c
    parts.append(linear(1, 1792, 1000))
    return sum(p for p, _ in parts), sum(m for _, m in parts)


def test_inception_resnet_v1_by_its_figures():
    assert _totals("inception_resnet_v1") == _irv1()


def test_inception_v2_is_v3_with_one_7x7_conv():
    """Table 3's Inception-v2: the three 3x3 stem convs (3x3/2 to 32 on 299, 3x3 to 32, padded 3x3
    to 64, at 149 and 147) become one 7x7/2 conv to 64, unpadded (147x147) or padded by 3
    (150x150, which the next rows carry to 74 and 72 before the pool restores 35)."""
    v3_params, v3_macs = _totals("inception_v3")
    stem = [(_bn_conv(3, 32, 3), 149), (_bn_conv(32, 32, 3), 147), (_bn_conv(32, 64, 3), 147)]
    stem_params = sum(p for (p, _), _ in stem)
    stem_macs = sum(m * g * g for (_, m), g in stem)
    seven_params, seven_macs = _bn_conv(3, 64, 7)
    assert stem_macs == 19_181_664 + 199_148_544 + 398_297_088 == 616_627_296  # "616.6M"
    assert _totals("inception_v2") == (v3_params - stem_params + seven_params,
                                        v3_macs - stem_macs + seven_macs * 147 * 147)
    padded = _totals("inception_v2", "padded")[1] - _totals("inception_v2")[1]
    # 7x7 at 150 instead of 147; 1x1 to 80 at 74 instead of 73; 3x3 to 192 at 72 instead of 71
    assert padded == seven_macs * (150**2 - 147**2) + 64 * 80 * (74**2 - 73**2) + \
        9 * 80 * 192 * (72**2 - 71**2)


def test_bn_googlenet_swaps_each_conv_bias_for_batchnorm():
    """BN-GoogLeNet: GoogLeNet's Table 1 with BatchNorm (two params per channel) in place of each
    conv's bias (one), so one more param per conv output channel, and the same MACs."""
    conv_outs = 64 + 64 + 192 + sum([64 + 96 + 128 + 16 + 32 + 32, 128 + 128 + 192 + 32 + 96 + 64,
                                     192 + 96 + 208 + 16 + 48 + 64, 160 + 112 + 224 + 24 + 64 + 64,
                                     128 + 128 + 256 + 24 + 64 + 64, 112 + 144 + 288 + 32 + 64 + 64,
                                     256 + 160 + 320 + 32 + 128 + 128, 256 + 160 + 320 + 32 + 128 + 128,
                                     384 + 192 + 384 + 48 + 128 + 128])
    params, macs = _totals("googlenet")
    assert _totals("googlenet", "bn") == (params + conv_outs, macs)
