"""The built network: rows in order, shapes, aux heads, the torchvision flavour's published size,
and row names that torch would take for its own attributes."""

import json

import pytest

torch = pytest.importorskip("torch")

from conftest import DATA  # noqa: E402
from incprof.nn.build import build
from incprof.spec.registry import load_spec, resolve
from incprof.spec.shapes import place
from incprof.spec.variants import apply_flavor


@pytest.fixture(scope="module")
def googlenet():
    return resolve("googlenet")


def test_modules_are_the_table_rows(googlenet):
    model = build(googlenet)
    assert [name for name, _ in model.named_children()] == ["rows", "aux"]
    assert len(model.rows) == len(googlenet.rows) and len(model.aux) == 2
    assert model.row_names == [r.name for r in googlenet.rows]
    assert model.aux_names == ["aux1", "aux2"]
    assert model.row("inception_3a") is model.rows[4]
    assert model.module_name("aux2") == "aux.1" and model.row("aux2") is model.aux[1]


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
            x = model.row(p.name)(x)
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


# Names that are attributes or methods of nn.Module or Network, or that torch refuses as module
# names (dots, a leading underscore), plus markup and non-ASCII.
HOSTILE = ["forward", "training", "T_destination", "aux", "aux_after", "row_names", "rows",
           "_modules", "__init__", "_x", "a.b", "rows.0", "aux.0", "0", "add_module", "cuda",
           "register_buffer", "row", "module_name", "[bold]x[/bold]", "$\\frac{1}{2}$", "конв 1",
           "a b", "-", "🙂"]


@pytest.mark.parametrize("name, head", list(zip(HOSTILE, HOSTILE[1:] + HOSTILE[:1])))
def test_any_row_name_builds_runs_and_counts(name, head):
    """Renaming tiny's rows does not change the network: same outputs, same FlopCounterMode
    counts."""
    from incprof.nn.crosscheck import measure
    from incprof.spec.registry import parse_spec
    from incprof.spec.yamlio import load_yaml

    text = (DATA / "tiny.yaml").read_text()
    renamed = (text.replace("name: pool", f"name: {json.dumps(name, ensure_ascii=False)}")
               .replace("after: pool", f"after: {json.dumps(name, ensure_ascii=False)}")
               .replace("name: head", f"name: {json.dumps(head, ensure_ascii=False)}"))
    spec = parse_spec(load_yaml("renamed.yaml", renamed), "renamed.yaml")
    assert spec.rows[1].name == name and spec.aux[0].name == head
    torch.manual_seed(0)
    plain = build(load_spec(DATA / "tiny.yaml"))
    torch.manual_seed(0)
    model = build(spec)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(model.train()(x), plain.train()(x)))
        assert torch.equal(model.eval()(x), plain.eval()(x))
    measured, expected = measure(spec), measure(load_spec(DATA / "tiny.yaml"))
    assert measured[name] == expected["pool"] and measured[head] == expected["head"]
    assert measured[head].params == 4 * 2 * 2 * 3 + 3  # 2x2x4 pooled features -> 3 classes
    assert measured["conv"].macs == 3 * 3 * 3 * 4 * 8 * 8  # 3x3 conv, 3 -> 4 channels, 8x8


def test_branches_on_a_flattened_input_concatenate_flat(write_spec):
    """Parallel linear heads after a linear layer, then a conv on the 1x1 map they give."""
    from incprof.nn.crosscheck import measure

    spec = load_spec(write_spec("""\
name: flat
input: [3, 4, 4]
rows:
  - {name: fc, type: x, layers: [{global_avgpool: {}}, {linear: {out: 4}}]}
  - {name: heads, type: x, layers: [{branches: [[{linear: {out: 3}}],
                                                [{dropout: {p: 0.5}}, {linear: {out: 2}}]]}]}
  - {name: back, type: x, layers: [{conv: {out: 2, kernel: 1}}]}
"""))
    model = build(spec).eval()
    with torch.no_grad():
        assert model.row("heads")(torch.randn(2, 4)).shape == (2, 5)
        assert model(torch.randn(2, 3, 4, 4)).shape == (2, 2, 1, 1)
    measured = measure(spec)
    assert (measured["heads"].params, measured["heads"].macs) == (4 * 3 + 3 + 4 * 2 + 2, 4 * 3 + 4 * 2)
    assert (measured["back"].params, measured["back"].macs) == (5 * 2 + 2, 5 * 2)


def test_weights_choice_sets_what_the_initialisers_do(googlenet):
    def next_draw(weights=None):
        torch.manual_seed(0)
        if weights:
            build(googlenet, weights=weights)
        return torch.rand(1).item()

    untouched = next_draw()
    # "empty" and "zero" draw nothing from torch's generator; "random" does
    assert next_draw("empty") == untouched
    assert next_draw("zero") == untouched
    assert next_draw("random") != untouched
    zero, random = build(googlenet, weights="zero"), build(googlenet)
    assert not any(bool(p.any()) for p in zero.parameters())
    assert all(bool(p.any()) for name, p in random.named_parameters() if name.endswith("weight"))
    empty = build(googlenet, weights="empty")
    assert [p.shape for p in empty.parameters()] == [p.shape for p in random.parameters()]
    with pytest.raises(ValueError, match="weights must be one of random, zero, empty"):
        build(googlenet, weights="ones")
