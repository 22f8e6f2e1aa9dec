"""The built network: rows as children, shapes, aux heads, the torchvision flavour's published size."""

import pytest

torch = pytest.importorskip("torch")

from conftest import DATA  # noqa: E402
from incprof.build import build  # noqa: E402
from incprof.spec import load_spec, place, resolve  # noqa: E402
from incprof.variants import apply_flavor  # noqa: E402


@pytest.fixture(scope="module")
def googlenet():
    return resolve("googlenet")


def test_children_are_the_table_rows(googlenet):
    model = build(googlenet)
    names = [name for name, _ in model.named_children()]
    assert names == [r.name for r in googlenet.rows] + ["aux"]
    assert list(model.aux) == ["aux1", "aux2"]


def test_paper_network_is_faithful(googlenet):
    model = build(googlenet)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.bias is not None for c in convs)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert sum(isinstance(m, torch.nn.LocalResponseNorm) for m in model.modules()) == 2
    # every conv is followed by a ReLU: one ReLU per conv, plus the aux heads' FC 1024 ReLUs
    relus = sum(isinstance(m, torch.nn.ReLU) for m in model.modules())
    assert relus == len(convs) + 2


def test_forward_eval_and_train(googlenet):
    model = build(googlenet).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 1000)
    assert torch.allclose(out.sum(), torch.tensor(1.0))  # the softmax row
    model.train()
    main, aux1, aux2 = model(torch.randn(2, 3, 224, 224))
    assert main.shape == aux1.shape == aux2.shape == (2, 1000)


def test_each_row_produces_its_inferred_shape(googlenet):
    model = build(googlenet).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        for p in place(googlenet):
            if p.is_aux:
                continue
            x = getattr(model, p.name)(x)
            assert tuple(x.shape[1:]) in (p.out_shape, (p.out_shape[0],)), p.name


def test_param_count_matches_analytic(googlenet):
    model = build(googlenet)
    assert sum(p.numel() for p in model.parameters()) == 13_378_280
    main = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("aux."))
    assert main == 6_998_552


def test_torchvision_flavour_has_torchvisions_published_size(googlenet):
    model = build(apply_flavor(googlenet, "torchvision"))
    main = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("aux."))
    assert main == 6_624_904  # torchvision GoogLeNet_Weights.IMAGENET1K_V1 meta num_params
    assert not any(isinstance(m, torch.nn.LocalResponseNorm) for m in model.modules())
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(bn.eps == 1e-3 for bn in bns)
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


def test_other_input_size(googlenet):
    model = build(googlenet, (256, 256)).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 256, 256)).shape == (1, 1000)


def test_linear_after_linear_and_conv_after_linear():
    spec = load_spec(DATA / "tiny.yaml")
    model = build(spec).train()
    main, head = model(torch.randn(2, 3, 8, 8))
    assert main.shape == (2, 5) and head.shape == (2, 3)


def test_inception_v3_has_torchvisions_published_size():
    spec = resolve("inception_v3")
    model = build(spec)
    assert sum(p.numel() for p in model.parameters()) == 27_161_264  # with the aux head
    main = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("aux."))
    assert main == 23_834_568  # the "fewer than 25 million" holds without the aux head
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 299, 299)).shape == (1, 1000)
