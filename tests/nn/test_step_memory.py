"""A training step's memory measured on the CPU: saved_tensors_hooks against the tiny spec
worked out by hand, and the allocator's peak against the model."""

import pytest

from conftest import DATA
from incprof.spec.registry import load_spec

pytest.importorskip("torch")
F = 4


def test_saved_bytes_by_hand():
    from incprof.nn.step_memory import measure_step_memory

    batch = 2
    m = measure_step_memory(load_spec(DATA / "tiny.yaml"), batch_size=batch)
    relus = (2 + 2 + 3 + 1 + 2 + 1) * 16
    assert m.saved_bytes == {
        "conv": batch * (3 * 64 + 4 * 64) * F,  # its input, its ReLU's output
        "pool": batch * 4 * 16 * 8,  # int64 indices
        "head": batch * (4 * 16 + 4 * 4) * F,  # pool's output (it runs first), its linear input
        "mixed": batch * (relus * F + 4 * 16 * 8 + 4 * 16 * F),
        "gap": 0, "fc": batch * 8 * F}


@pytest.mark.parametrize("optimizer, copies", [("sgd", 0), ("momentum", 1), ("adam", 2)])
def test_optimizer_state_measured(optimizer, copies):
    from incprof.nn.step_memory import measure_step_memory

    m = measure_step_memory(load_spec(DATA / "tiny.yaml"), batch_size=2, optimizer=optimizer)
    params, tensors = 112 + 139 + 45 + 51, 18
    assert m.optimizer_bytes == copies * params * F + (4 * tensors if copies == 2 else 0)


@pytest.mark.slow
@pytest.mark.parametrize("name, flavor, optimizer", [("googlenet", "paper", "adam"),
                                                     ("googlenet", "torchvision", "momentum"),
                                                     ("bn_inception", "paper", "sgd")])
def test_model_within_ten_percent_of_the_measured_peak(name, flavor, optimizer):
    from incprof.analysis.training import training_records

    records = training_records(name, flavor=flavor, batch_size=2, optimizer=optimizer,
                               measure=True)
    measured = records.attrs["totals"]["measured"]
    assert measured["saved_agrees"]
    assert abs(measured["model_over_measured"] - 1) <= 0.10


@pytest.mark.parametrize("frozen", [{"mixed"}, {"conv"}, {"fc", "head"}])
def test_saved_bytes_with_frozen_rows_agree_with_the_hooks(frozen):
    from incprof.analysis.training import training_records

    records = training_records(DATA / "tiny.yaml", batch_size=2, frozen=frozenset(frozen),
                               measure=True)
    assert records.attrs["totals"]["measured"]["saved_agrees"]
