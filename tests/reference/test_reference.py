"""The reference tier: each built-in network against its reference implementation's own code.

Runs in its own environment (torch 2.14.1, torchvision 0.29.1, timm, pretrainedmodels,
facenet-pytorch: see the README's test command, whose last step runs `.venv-ref/bin/python -m
pytest tests/reference`). For each pair
it checks, independently of incprof's own counting:
- equal parameter counts (the reference model's ``parameters()``);
- equal conv + linear MACs (the reference model under torch's FlopCounterMode, FLOPs / 2);
- equal outputs in eval mode, in float64, after copying the reference model's randomly initialised
  weights and buffers into incprof's build by order (shapes asserted), at the native input size and
  at one other size where the reference accepts it.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from incprof.count.analytic import count_spec
from incprof.nn.build import build
from incprof.spec.registry import resolve
from incprof.spec.variants import apply_flavor

pytestmark = pytest.mark.reference


def _torchvision(name: str, **kwargs):
    import torchvision.models as models

    return getattr(models, name)(weights=None, init_weights=True, **kwargs)


def _timm(name: str, **kwargs):
    import timm

    return timm.create_model(name, pretrained=False, **kwargs)


def _facenet_body():
    """facenet-pytorch's InceptionResnetV1 up to its fifth Inception-ResNet-C block: its stem,
    blocks and reductions, which have the paper's widths (its sixth block and embedding head are
    not the paper's; tables/inception_resnet_v1.yaml says how they differ)."""
    from facenet_pytorch import InceptionResnetV1

    net = InceptionResnetV1(classify=False)
    return torch.nn.Sequential(net.conv2d_1a, net.conv2d_2a, net.conv2d_2b, net.maxpool_3a,
                               net.conv2d_3b, net.conv2d_4a, net.conv2d_4b, net.repeat_1,
                               net.mixed_6a, net.repeat_2, net.mixed_7a, net.repeat_3)


def _bninception():
    import pretrainedmodels

    return pretrainedmodels.bninception(num_classes=1000, pretrained=None)


# (arch, flavour, the reference model without aux heads, other input side or None[, the spec's
# last row compared, where the reference covers only the rows up to it]).
# BN-Inception's Caffe port ends in a fixed 7x7 average pool, so it accepts only 224x224.
REFERENCES = {
    "googlenet": ("torchvision", lambda: _torchvision("googlenet", aux_logits=False), 256),
    "inception_v3": ("paper", lambda: _torchvision("inception_v3", aux_logits=False), 320),
    "inception_v4": ("paper", lambda: _timm("inception_v4"), 320),
    "inception_resnet_v2": ("paper", lambda: _timm("inception_resnet_v2"), 320),
    "xception": ("paper", lambda: _timm("legacy_xception"), 320),
    "bn_inception": ("caffe", _bninception, None),
    # timm's mobilenetv1_100 uses ReLU6 (as TF-slim does); the paper's Figure 3 draws ReLU, which
    # the spec builds, so the reference is made with ReLU for the outputs to be comparable.
    "mobilenet_v1": ("paper", lambda: _timm("mobilenetv1_100", act_layer="relu"), 256),
    # No ImageNet Inception-ResNet-v1 exists in torchvision or timm: facenet-pytorch's port of
    # davidsandberg/facenet (a face-embedding network) is compared up to where it leaves the paper.
    "inception_resnet_v1": ("paper", _facenet_body, 320, "block8_5"),
}


def _spec(arch: str, flavor: str, last: str | None = None):
    """The spec without aux heads, and without its final softmax row (references end in logits),
    or only up to its row ``last``."""
    spec = apply_flavor(resolve(arch), flavor)
    if last is not None:
        rows = spec.rows[:[row.name for row in spec.rows].index(last) + 1]
    else:
        rows = spec.rows[:-1] if spec.rows[-1].type == "softmax" else spec.rows
    return dataclasses.replace(spec, rows=rows, aux=())


def _reference_macs(model: torch.nn.Module, side: int) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, side, side))
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


@pytest.fixture(scope="module", params=sorted(REFERENCES))
def pair(request):
    torch.manual_seed(0)
    flavor, make, other, *last = REFERENCES[request.param]
    return request.param, _spec(request.param, flavor, *last), make().eval(), other


def test_parameter_counts_are_equal(pair):
    _, spec, reference, _ = pair
    counted = sum(rc.counts.params for rc in count_spec(spec))
    assert counted == sum(p.numel() for p in reference.parameters())


def test_macs_are_equal_at_two_sizes(pair):
    _, spec, reference, other = pair
    for side in (spec.input[1], other):
        if side is None:
            continue
        counted = sum(rc.counts.macs for rc in count_spec(spec, (side, side)))
        assert counted == _reference_macs(reference, side), side


def test_outputs_are_equal_with_the_reference_weights(pair):
    _, spec, reference, other = pair
    ours = build(spec).eval().double()
    reference = reference.double()
    theirs_state, ours_state = reference.state_dict(), ours.state_dict()
    assert len(theirs_state) == len(ours_state)
    copied = {}
    for (their_key, value), (our_key, slot) in zip(theirs_state.items(), ours_state.items()):
        assert value.shape == slot.shape, (their_key, our_key)
        copied[our_key] = value
    ours.load_state_dict(copied)
    for side in (spec.input[1], other):
        if side is None:
            continue
        x = torch.randn(2, 3, side, side, dtype=torch.float64)
        with torch.no_grad():
            expected, got = reference(x), ours(x)
        assert got.shape == expected.shape
        scale = expected.abs().max().item()
        assert torch.allclose(got, expected, rtol=1e-9, atol=1e-9 * scale), side
