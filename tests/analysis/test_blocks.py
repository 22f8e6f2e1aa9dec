"""A row as a tree of blocks: branches and residuals with their counts, from the formulas."""

from incprof.analysis.blocks import row_blocks
from incprof.spec.registry import resolve


def _conv(cin, cout, k, hw, bias=True):
    """(params, MACs) of a k x k conv at an output of hw x hw, worked from the formula."""
    weights = k * k * cin * cout
    return weights + (cout if bias else 0), weights * hw * hw


def test_inception_3a_branches_carry_the_formulas():
    """GoogLeNet's 3a on 28x28x192 (Table 1: 64, 96 -> 128, 16 -> 32, pool -> 32)."""
    blocks = {name: block for name, _, block in row_blocks(resolve("googlenet"))}
    (module,) = blocks["inception_3a"].parts
    assert module.merge == "concat" and module.in_shape == (192, 28, 28)
    assert module.out_shape == (256, 28, 28)
    expected = [[_conv(192, 64, 1, 28)],
                [_conv(192, 96, 1, 28), _conv(96, 128, 3, 28)],
                [_conv(192, 16, 1, 28), _conv(16, 32, 5, 28)],
                [(0, 0), _conv(192, 32, 1, 28)]]  # the 3x3 max pool has no params, no MACs
    for branch, layers in zip(module.parts, expected, strict=True):
        assert [(p.params, p.macs) for p in branch.parts] == layers
        assert (branch.params, branch.macs) == tuple(map(sum, zip(*layers)))
    total = [sum(p for layers in expected for p, _ in layers),
             sum(m for layers in expected for _, m in layers)]
    assert [module.params, module.macs] == total


def test_a_residual_block_keeps_its_scale_relu_and_identity_shortcut():
    """Inception-ResNet-v2's 17x17 blocks scale the body by 0.1 and apply a ReLU after the sum
    (tables/inception_resnet_v2.yaml, after the paper's section 3.3)."""
    blocks = {name: block for name, _, block in row_blocks(resolve("inception_resnet_v2"))}
    (residual,) = blocks["block17_1"].parts
    body, shortcut = residual.parts
    assert residual.merge == "sum" and residual.scale == 0.1 and residual.relu
    assert shortcut.parts == () and shortcut.in_shape == shortcut.out_shape == (1088, 17, 17)
    assert residual.params == body.params and body.parts[0].merge == "concat"
