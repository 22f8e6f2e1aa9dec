"""`incprof export`: a model written as a spec, counted the same, and computing the same outputs
with the model's weights loaded by order of use."""

import pytest

torch = pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from conftest import MODELS, user_models  # noqa: E402
from incprof.count.analytic import count_spec
from incprof.nn.build import build
from incprof.capture.rows import capture
from incprof.cli.app import app
from incprof.errors import UsageError
from incprof.capture.export import export_spec, load_by_use_order, to_yaml
from incprof.spec.registry import load_spec

torch.set_num_threads(1)
runner = CliRunner()



def test_round_trip_counts_and_outputs(tmp_path):
    torch.manual_seed(0)
    model = user_models().inception_like().eval()
    path = tmp_path / "net.yaml"
    path.write_text(to_yaml(export_spec(model, 16)))
    spec = load_spec(path)
    assert [r.name for r in spec.rows] == ["stem", "pool", "mixed", "res", "gap", "drop", "fc"]
    ours = {rc.placed.name: rc.counts for rc in count_spec(spec)}
    for row in capture(model, 16).rows:
        if row.name in ours:
            assert (ours[row.name].params, ours[row.name].macs) == (row.params, row.macs), row.name
    assert sum(c.params for c in ours.values()) == sum(p.numel() for p in model.parameters())
    network = build(spec).eval().double()
    model = model.double()
    for module in model.modules():  # non-trivial BatchNorm statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    example = torch.zeros(1, 3, 16, 16, dtype=torch.float64)
    pairs = load_by_use_order(network, model, example)
    assert len(pairs) == len(network.state_dict())
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        expected, got = model(x), network(x).flatten(1)
    assert torch.allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_the_cli_writes_a_spec_that_table_reads(tmp_path):
    out = tmp_path / "net.yaml"
    result = runner.invoke(app, ["export", "--model", f"{MODELS}:inception_like",
                                 "--input-size", "16", "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = runner.invoke(app, ["table", "--spec", str(out), "-f", "json"])
    assert table.exit_code == 0, table.output
    # stem conv 3->16 3x3 stride 2 (16 -> 7) and its BatchNorm, worked out by hand.
    assert '"macs": 21168' in table.stdout and '"params": 464' in table.stdout


@pytest.mark.parametrize("factory, node, why", [
    ("functional", "conv2d_2", "uses the weights p_block_conv_weight again"),
    ("hardswish_net", "hardswish", "this op has no spec layer"),
])
def test_what_cannot_be_expressed_is_named(factory, node, why):
    with pytest.raises(UsageError) as caught:
        export_spec(getattr(user_models(), factory)(), 16, label=factory)
    message = str(caught.value)
    assert f"node {node} " in message and why in message, message


def test_cli_export_error_is_one_line():
    result = runner.invoke(app, ["export", "--model", f"{MODELS}:hardswish_net",
                                 "--input-size", "16"])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "hardswish" in result.stderr


def test_a_never_run_head_is_named_with_its_params(tmp_path):
    model = user_models().with_aux()
    left_out: dict = {}
    data = export_spec(model, 16, depth=2, left_out=left_out)
    aux_params = (16 * 4 + 4) + (4 * 7 * 7 * 5 + 5)  # its 1x1 conv and its linear
    assert left_out == {"aux": aux_params}
    path = tmp_path / "net.yaml"
    path.write_text(to_yaml(data, left_out))
    assert path.read_text().startswith(f"# not exported: aux (never run on the example input, e.g. "
                                       f"aux heads in eval): {aux_params:,} params")
    spec_params = sum(rc.counts.params for rc in count_spec(load_spec(path)))
    assert spec_params + aux_params == sum(p.numel() for p in model.parameters())
    result = runner.invoke(app, ["export", "--model", f"{MODELS}:with_aux", "--input-size", "16"])
    assert result.exit_code == 0 and "not exported: aux" in result.stderr, result.output
    nothing: dict = {}
    export_spec(user_models().inception_like(), 16, left_out=nothing)
    assert nothing == {}


def test_every_test_model_that_exports_round_trips_its_counts(tmp_path):
    """The round trip for every model in tests/data/user_models.py that a spec can express: the
    spec's params and the never-run modules' add up to the model's, and its MACs are the graph's."""
    import inspect

    module = user_models()
    exported = 0
    for name, factory in inspect.getmembers(module, inspect.isfunction):
        required = [p for p in inspect.signature(factory).parameters.values()
                    if p.default is inspect.Parameter.empty]
        if factory.__module__ != module.__name__ or required or name in ("raises", "tagger_inputs"):
            continue  # not a model factory
            continue
        model = factory()
        left_out: dict = {}
        try:
            data = export_spec(model, 16, label=name, left_out=left_out)
        except UsageError:
            continue  # not expressible: named in one line (test_what_cannot_be_expressed_is_named)
        path = tmp_path / f"{name}.yaml"
        path.write_text(to_yaml(data))
        counts = [rc.counts for rc in count_spec(load_spec(path))]
        assert sum(c.params for c in counts) + sum(left_out.values()) == sum(
            p.numel() for p in model.parameters()), name
        assert sum(c.macs for c in counts) == sum(r.macs for r in capture(model, 16).rows), name
        exported += 1
    assert exported >= 3
