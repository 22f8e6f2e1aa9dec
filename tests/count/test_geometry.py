"""Receptive fields, live activation memory and representation sizes."""

import pytest

from conftest import DATA
from incprof.count.geometry import geometry, sequence_peak
from incprof.spec.layers import Branches, Conv, Pool
from incprof.spec.registry import load_spec, resolve


def field_of(path):
    """Receptive field and jump along a list of (kernel, stride), worked out from scratch."""
    field, jump = 1, 1
    for kernel, stride in path:
        field += (kernel - 1) * jump
        jump *= stride
    return field, jump


# GoogLeNet's largest-field path: conv1, pool1, conv2 (1x1 then 3x3), pool2, the 5x5 branch of each
# module (1x1 then 5x5), pool3, pool4, and the final 7x7 average pool.
GOOGLENET_PATH = ([(7, 2), (3, 2), (1, 1), (3, 1), (3, 2)] + [(1, 1), (5, 1)] * 2 + [(3, 2)]
                  + [(1, 1), (5, 1)] * 5 + [(3, 2)] + [(1, 1), (5, 1)] * 2 + [(7, 1)])
# Inception-v3 to mixed_7c: the stem, then each module's largest-field branch.
V3_PATH = ([(3, 2), (3, 1), (3, 1), (3, 2), (1, 1), (3, 1), (3, 2)]
           + [(1, 1), (3, 1), (3, 1)] * 3                       # 35x35: double 3x3 branch
           + [(1, 1), (3, 1), (3, 2)]                           # grid reduction to 17x17
           + [(1, 1), (7, 1), (7, 1)] * 4                       # 17x17: 7x1/1x7 double branch
           + [(1, 1), (7, 1), (3, 2)]                           # grid reduction to 8x8
           + [(1, 1), (3, 1), (3, 1)] * 2)                      # 8x8: 3x3 then 1x3|3x1


def test_googlenet_final_field():
    g = geometry(resolve("googlenet"))
    assert (g["avgpool"].field.size[0], g["avgpool"].field.jump[0]) == field_of(GOOGLENET_PATH)
    assert g["avgpool"].field.size == (907, 907)
    assert g["conv1"].field.size == (7, 7) and g["conv2"].field.size == (19, 19)


def test_inception_v3_field_at_the_last_module():
    g = geometry(resolve("inception_v3"))
    assert g["mixed_7c"].field.size[0] == field_of(V3_PATH)[0] == 1311
    # asymmetric kernels grow the two axes alike over a module, since 1x7 and 7x1 alternate
    assert g["mixed_6b"].field.size[0] == g["mixed_6b"].field.size[1]


@pytest.mark.parametrize("row, channel, size", [
    ("conv1", 0, 7), ("pool1", 0, 11), ("conv2", 0, 19),
    ("inception_3a", 64 + 128 + 5, 59),  # a channel of the 5x5 branch: the module's field
    ("inception_3a", 0, 27),             # a channel of the 1x1 branch sees only pool2's field
])
def test_gradient_support_matches_the_field(row, channel, size):
    """Empirically: one centre output unit depends on exactly a size x size input window."""
    torch = pytest.importorskip("torch")
    from incprof.nn.build import build

    spec = resolve("googlenet")
    model = build(spec).eval()
    # make every path count: positive weights, average instead of max pooling, no ReLU
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, torch.nn.MaxPool2d):
                setattr(module, child_name, torch.nn.AvgPool2d(
                    child.kernel_size, child.stride, child.padding, child.ceil_mode))
            elif isinstance(child, torch.nn.ReLU):
                setattr(module, child_name, torch.nn.Identity())
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.01)
    x = torch.ones(1, 3, 224, 224, requires_grad=True)
    y = x
    for name in model.row_names:
        y = model.row(name)(y)
        if name == row:
            break
    h, w = y.shape[-2:]
    y[0, channel, h // 2, w // 2].backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    assert (int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1) == (size, size)


def test_peak_live_activations_by_hand():
    # input 4x8x8 (256); branches: 1x1 conv -> 2x8x8 (128), and 3x3 pool (256) -> 1x1 conv (64)
    module = Branches(((Conv(out=2, kernel=(1, 1)),),
                       (Pool("max", (3, 3), (1, 1), (1, 1)), Conv(out=1, kernel=(1, 1)))))
    # second branch: input + first branch output + pool output = 256 + 128 + 256 = 640;
    # concatenation: input + both branch outputs + concatenated output = 256 + 128 + 64 + 192
    assert sequence_peak((module,), (4, 8, 8)) == max(640, 256 + 128 + 64 + 192)
    bn = Conv(out=4, kernel=(1, 1), bn_eps=1e-3)
    assert sequence_peak((bn,), (4, 8, 8)) == 256 * 3  # input, conv output and BN output


def test_representation_ratio_and_tiny():
    g = geometry(load_spec(DATA / "tiny.yaml"))
    assert g["conv"].representation_ratio == round(192 / 256, 2)  # 3x8x8 in, 4x8x8 out
    assert g["pool"].representation_ratio == 4.0 and g["gap"].representation_ratio == 16.0
    assert g["head"].representation_ratio is None


def test_profile_columns_and_check_mac_outputs():
    from incprof.analysis.profile import profile_records

    df = profile_records("googlenet", verify=pytest.importorskip("torch") is not None,
                         dtype="fp16").to_frame()
    t = df.attrs["totals"]
    assert t["check_mac_outputs_agree"] is True
    assert t["receptive_field"] == [907, 907]
    assert t["bottlenecks"] == ["avgpool"]
    row = df.set_index("row").loc["inception_3a"]
    assert row["activations"] == 256 * 28 * 28 and row["activation_bytes"] == 2 * 256 * 28 * 28
