"""Analytic counts equal fvcore's on the built network, to the unit, for every spec and flavour."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("fvcore")

from conftest import DATA  # noqa: E402
from incprof.analytic import count_spec  # noqa: E402
from incprof.count import measure  # noqa: E402
from incprof.spec import available, load_spec, resolve  # noqa: E402
from incprof.variants import apply_flavor, flavors  # noqa: E402

SPECS = [*available(), str(DATA / "tiny.yaml")]
SPEC_FLAVORS = [(name, flavor) for name in SPECS for flavor in flavors(resolve(name))]


@pytest.mark.parametrize(("name", "flavor"), SPEC_FLAVORS)
def test_analytic_equals_fvcore_on_every_row(name, flavor):
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


def test_fvcore_sees_the_tiny_spec():
    measured = measure(load_spec(DATA / "tiny.yaml"))
    assert measured["conv"].macs == 6912 and measured["head"].params == 51


@pytest.mark.parametrize("variant", ["naive", "factorized", "factorized_asym", "grid_parallel",
                                     "grid_conv_then_pool", "grid_pool_then_conv"])
def test_every_named_variant_agrees_with_fvcore(variant):
    from incprof.variants import VARIANTS

    spec = VARIANTS[variant](resolve("googlenet"))
    measured = measure(spec)
    for rc in count_spec(spec):
        m = measured[rc.placed.name]
        assert (m.params, m.macs, m.activations) == (rc.counts.params, rc.counts.macs,
                                                    rc.counts.mac_outputs), rc.placed.name
