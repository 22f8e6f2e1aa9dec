"""Analytic counts equal FlopCounterMode's formulas on the built network (run on an empty batch), to
the unit, for every spec and flavour."""

import pytest

pytest.importorskip("torch")

from conftest import DATA, fresh_check  # noqa: E402
from incprof.count.analytic import count_spec
from incprof.nn.crosscheck import measure
from incprof.spec.registry import available, load_spec, resolve
from incprof.spec.variants import apply_flavor, flavors

SPECS = [*available(), str(DATA / "tiny.yaml")]
SPEC_FLAVORS = [(name, flavor) for name in SPECS for flavor in flavors(resolve(name))]


@pytest.mark.parametrize(("name", "flavor"), SPEC_FLAVORS)
def test_analytic_equals_flop_counter_on_every_row(name, flavor):
    spec = apply_flavor(resolve(name), flavor)
    measured = measure(spec)
    counted = count_spec(spec)
    assert [rc.placed.name for rc in counted] == list(measured)
    for rc in counted:
        m = measured[rc.placed.name]
        assert (m.params, m.macs) == (rc.counts.params, rc.counts.macs), rc.placed.name


def test_batch_and_input_size_scale_like_the_analytic_counts():
    spec = resolve("googlenet")
    measured = measure(spec, (256, 256), batch_size=3)
    for rc in count_spec(spec, (256, 256)):
        m = measured[rc.placed.name]
        assert (m.params, m.macs) == (rc.counts.params, 3 * rc.counts.macs), rc.placed.name


def test_flop_counter_sees_the_tiny_spec():
    measured = measure(load_spec(DATA / "tiny.yaml"))
    assert measured["conv"].macs == 6912 and measured["head"].params == 51


def test_the_cross_check_allocates_no_activations():
    """On a real batch, GoogLeNet's activations at batch 4096 would take over 100 GB: on an empty
    batch the count runs, and scales with the batch."""
    from incprof.count.limits import available_bytes, estimate_bytes

    spec = resolve("googlenet")
    assert estimate_bytes(spec, batch_size=4096) > available_bytes()
    measured = measure(spec, batch_size=4096)
    for rc in count_spec(spec):
        m = measured[rc.placed.name]
        assert (m.params, m.macs, m.activations) == (
            rc.counts.params, 4096 * rc.counts.macs, 4096 * rc.counts.mac_outputs), rc.placed.name


def test_a_wrong_build_is_caught(monkeypatch):
    """The second count sees the network torch runs, not the spec: a build whose first conv is
    5x5 (padding 2, same output) where the spec says 3x3 is counted as built."""
    from torch import nn

    import incprof.nn.build

    spec = load_spec(DATA / "tiny.yaml")
    real = incprof.nn.build.build

    def wrong(spec, input_hw=None, **kwargs):
        model = real(spec, input_hw, **kwargs)
        model.row("conv")[0][0] = nn.Conv2d(3, 4, 5, padding=2)
        return model

    monkeypatch.setattr(incprof.nn.build, "build", wrong)
    measured = measure(spec)["conv"]
    assert (measured.params, measured.macs) == (5 * 5 * 3 * 4 + 4, 5 * 5 * 3 * 4 * 8 * 8)
    right = count_spec(spec)[0].counts
    assert (right.params, right.macs) == (3 * 3 * 3 * 4 + 4, 3 * 3 * 3 * 4 * 8 * 8)


@pytest.mark.parametrize("variant", ["naive", "factorized", "factorized_asym", "grid_parallel",
                                     "grid_conv_then_pool", "grid_pool_then_conv"])
def test_every_named_variant_agrees_with_flop_counter(variant):
    from incprof.spec.variants import VARIANTS

    spec = VARIANTS[variant](resolve("googlenet"))
    measured = measure(spec)
    for rc in count_spec(spec):
        m = measured[rc.placed.name]
        assert (m.params, m.macs, m.activations) == (rc.counts.params, rc.counts.macs,
                                                    rc.counts.mac_outputs), rc.placed.name


def test_ops_counted_as_zero_are_kept_and_shown():
    from incprof.render import profile as render_profile
    from incprof.analysis.profile import profile_records

    skipped = measure(resolve("googlenet")).skipped
    # Figure 3: four max pools between stages and one pool branch in each of the nine modules;
    # avg pools: the final 7x7 one and one in each of the two aux heads; one concatenation per
    # module; ReLU after each of the 57 convs of the main network and after the conv and the first
    # fully connected layer of each aux head; the two LRNs of the stem; the softmax of the
    # classifier and of each aux head. FlopCounterMode has no formula for any of them.
    assert skipped == {"max_pool2d": 4 + 9, "avg_pool2d": 1 + 2, "cat": 9, "relu": 57 + 2 * 2,
                       "local_response_norm": 2, "softmax": 1 + 2}
    records = profile_records("googlenet", verify=True)
    assert records.attrs["totals"]["check_zero_ops"] == skipped
    line = next(x for x in render_profile.summary_lines(records)
                if x.startswith("FlopCounterMode counted as zero"))
    assert "max_pool2d x13" in line and "avg_pool2d x3" in line


def test_a_disagreement_exits_1_and_is_shown(monkeypatch):
    import incprof.nn.crosscheck
    from typer.testing import CliRunner

    from incprof.cli.app import app

    real = incprof.nn.crosscheck.measure

    def one_mac_off(spec, *args, **kwargs):
        measured = real(spec, *args, **kwargs)
        wrong = measured["inception_3a"]
        measured["inception_3a"] = incprof.nn.crosscheck.Measured(wrong.params, wrong.macs + 1,
                                                          wrong.activations)
        return measured

    monkeypatch.setattr(incprof.nn.crosscheck, "measure", one_mac_off)
    result = CliRunner().invoke(app, ["table", "--arch", "googlenet", "--format", "markdown"])
    assert result.exit_code == 1
    assert "DISAGREES with the analytic counts" in result.stdout
    row = next(x for x in result.stdout.splitlines() if x.startswith("| inception_3a "))
    assert "128,049,153" in row  # Table 1's 128,049,152 MACs, plus the injected one
    assert "FlopCounterMode's counts disagree" in result.stderr
    monkeypatch.setattr(incprof.nn.crosscheck, "measure", real)
    assert CliRunner().invoke(app, ["table", "--arch", "googlenet"]).exit_code == 0


NO_DYNAMO = fresh_check(
    "nn: measure inception_v3 at 2048x2048, batch 512",
    "from incprof.nn.crosscheck import measure; from incprof.spec.registry import resolve; "
    "m = measure(resolve('inception_v3'), (2048, 2048), batch_size=512); "
    "value = m['mixed_7c'].macs", forbid=("torch._dynamo", "sympy"))


def test_the_cross_check_does_no_arithmetic_and_imports_no_dynamo(fresh):
    """The count runs every op on an empty batch: a network whose convs would each take seconds
    on real images is counted at once, and torch's meta machinery (torch._dynamo, sympy) is
    never imported."""
    rc = next(rc for rc in count_spec(resolve("inception_v3"), (2048, 2048))
              if rc.placed.name == "mixed_7c")
    assert fresh[NO_DYNAMO] == {"imported": [], "value": 512 * rc.counts.macs}
