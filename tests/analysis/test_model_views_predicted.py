"""A --model's latency predicted from the ops each row runs (analysis.model_views), beside its
measured latency, with a hand-made profile whose every rate is flat."""

import json

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from incprof.analysis.model_views import model_views  # noqa: E402
from incprof.capture.inputs import Example  # noqa: E402
from incprof.capture.rows import profile_model_records  # noqa: E402
from incprof.nn.latency import TimingOptions  # noqa: E402

from conftest import FLAT_PROFILE as FLAT  # noqa: E402

class Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(torch.cumsum(x, 1))  # cumsum: no rule in the vocabulary


def views(tmp_path, model, latency=None):
    profile = tmp_path / "flat.json"
    profile.write_text(json.dumps({**FLAT, "rates": {**FLAT["rates"],
                                                     "bf16": FLAT["rates"]["fp32"]}}))
    example = Example((torch.randn(2, 8),), {})
    records = profile_model_records(model, label="m", example=example)
    return model_views(records, model, example, latency=latency, predict=True,
                       device_profile=str(profile))


def test_each_row_is_predicted_from_its_ops(tmp_path):
    records = views(tmp_path, nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)))
    rows = {r["row"]: r for r in records.rows}
    # Linear(8, 16) on 2 rows: 256 MACs, or (16 + 128 + 16 + 32) values of 4 bytes; its module
    # call and its op's dispatch (3 us, timed as a module running one op, less the 1 us call)
    first = max(2 * 8 * 16 / 1e9, (16 + 128 + 16 + 32) * 4 / 1e10) + 1e-6 + 2e-6
    assert rows["0"]["predicted_ms"] == round(first * 1000, 4)
    relu = max(32 / 1e9, 2 * 32 * 4 / 1e10) + 1e-6 + 2e-6
    assert rows["1"]["predicted_ms"] == round(relu * 1000, 4)
    p = records.attrs["totals"]["prediction"]
    assert p["unpriced"] == {} and p["network_parallel_ms"] is None
    # the network: the three rows and the Sequential's own call
    last = max(2 * 16 * 4 / 1e9, (32 + 64 + 4 + 8) * 4 / 1e10) + 1e-6 + 2e-6
    assert p["network_ms"] == pytest.approx((first + relu + last + 1e-6) * 1000, abs=1e-4)
    assert "predicted_ms" in records.attrs["views"] and "latency_ms" not in records.attrs["views"]


def test_an_op_without_a_rule_is_named_and_the_rest_still_priced(tmp_path):
    records = views(tmp_path, Head())
    p = records.attrs["totals"]["prediction"]
    assert p["unpriced"] == {"cumsum": 1}
    assert {r["row"] for r in records.rows if r["predicted_ms"]} == {"fc", "(Head)"}


def test_timed_rows_get_their_error(tmp_path):
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
    records = views(tmp_path, model, TimingOptions(device="cpu", threads=1, warmup=1, repeats=3))
    for r in records.rows:
        # the error from the unrounded figures: within the rounding of the two shown
        assert r["predicted_error"] == pytest.approx(r["predicted_ms"] / r["latency_ms"] - 1,
                                                     abs=1e-4 / r["latency_ms"] + 1e-4)
    p = records.attrs["totals"]["prediction"]
    assert p["rows"] == 2 and p["network_error"] is not None


def test_a_model_timed_in_bf16_is_predicted_from_its_ops_as_loaded(tmp_path):
    # the timing casts the model to bf16; the ops are recorded before, on the model as loaded
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
    records = views(tmp_path, model, TimingOptions(device="cpu", dtype="bf16", threads=1,
                                                   warmup=1, repeats=3))
    p = records.attrs["totals"]["prediction"]
    assert p["maths"] == ["bf16", "bf16"] and p["rows"] == 2
    # 2 bytes per value: Linear(8, 16)'s 192 values at 1e10 bytes/s, under its 256 MACs at 1e9
    first = max(2 * 8 * 16 / 1e9, 192 * 2 / 1e10) + 1e-6 + 2e-6
    assert records.rows[0]["predicted_ms"] == round(first * 1000, 4)
    assert records.attrs["latency"]["network_cpu_ms"] > 0


def test_with_no_profile_to_price_them_the_ops_are_not_recorded(tmp_path, monkeypatch):
    import incprof.capture.row_ops as row_ops

    monkeypatch.setenv("INCPROF_CACHE", str(tmp_path))  # nothing calibrated
    monkeypatch.setattr(row_ops, "row_ops", lambda *args: pytest.fail("ops recorded"))
    model = nn.Sequential(nn.Linear(8, 4))
    example = Example((torch.randn(2, 8),), {})
    records = model_views(profile_model_records(model, label="m", example=example), model,
                          example, latency=TimingOptions(device="cpu", warmup=1, repeats=2))
    assert "prediction" not in records.attrs["totals"]
    assert "predicted_ms" not in records.attrs["views"] and records.rows[0]["latency_ms"] > 0
