"""Predicted beside measured: accuracy figures and ceilings worked out by hand."""

import pytest

from incprof.analysis.predicted import accuracy, ceiling_records, ceilings, network_accuracy
from incprof.analysis.profile import profile_records
from incprof.nn.predict import Cost
from incprof.nn.profiles import builtin_names
from incprof.spec.registry import available


def _row(predicted, measured, cpu=None):
    return {"predicted_ms": predicted, "latency_ms": measured, "latency_cpu_ms": cpu}


def test_accuracy_counts_rows_within_each_band():
    # errors 0.05, 0.20, 0.50, 0.10 (|predicted / measured - 1|)
    rows = [_row(1.05, 1.0), _row(0.8, 1.0), _row(3.0, 2.0), _row(0.9, 1.0), _row(1.0, None)]
    out = accuracy(rows, 5.0)
    assert out["rows"] == 4
    assert out["within_10"] == 0.5 and out["within_25"] == 0.75
    assert out["median_abs_row_error"] == pytest.approx((0.10 + 0.20) / 2)
    assert "cpu_rows" not in out  # no CPU times: no CPU-time figures


def test_network_accuracy_and_the_share_of_the_roofline():
    prediction = {"network_ms": 12.0, "ceilings": {"roofline_images_per_s": 400.0}}
    network_accuracy(prediction, {"median_ms": 10.0, "cpu_ms": 8.0}, batch_size=2)
    assert prediction["network_error"] == pytest.approx(0.2)
    assert prediction["cpu_network_error"] == pytest.approx(0.5)
    assert prediction["measured_images_per_s"] == 200.0  # 2 images in 10 ms
    assert prediction["of_roofline"] == 0.5


def test_ceilings_are_images_per_second_of_each_bound():
    cost = Cost(compute_s=0.003, memory_s=0.001, all_compute_s=0.0035, all_memory_s=0.002)
    assert ceilings(cost, 4) == {"compute_images_per_s": round(4 / 0.0035, 2),
                                 "memory_images_per_s": 2000.0, "roofline_images_per_s": 1000.0}


def test_predict_alone_runs_nothing_and_fills_every_main_row():
    records = profile_records("googlenet", aux=True, predict=True, device_profile="h100-sxm")
    main = [r for r in records.rows if not r["aux"]]
    assert all(r["predicted_ms"] > 0 and r["predicted_error"] is None for r in main)
    assert all(r["predicted_ms"] is None for r in records.rows if r["aux"])
    p = records.attrs["totals"]["prediction"]
    assert p["calibrated"] is False and "UNCALIBRATED" in p["profile"]
    # a datasheet gives one bandwidth: no cache for a row's new outputs to fall out of
    assert p["in_network_ms"] == 0
    assert p["network_ms"] == pytest.approx(sum(r["predicted_ms"] for r in main), rel=1e-3)
    assert p["network_parallel_ms"] < p["network_ms"]  # googlenet's modules have 4 branches
    assert records.attrs["meta"]["latency_env"] is None


def test_the_ceilings_table_covers_every_network_and_datasheet_profile():
    records = ceiling_records()
    assert {(r["profile"], r["arch"]) for r in records.rows} == {
        (p, a) for p in builtin_names() for a in available()}
    for r in records.rows:  # the roofline is under both bounds, the prediction under it
        assert r["b64_bf16_roofline"] <= min(r["b64_bf16_compute"], r["b64_bf16_memory"])
        assert r["b64_bf16_predicted"] < r["b64_bf16_roofline"]


def test_a_timed_run_scales_the_prediction_by_the_machine_speed_against_calibration():
    from incprof.analysis.predicted import add_predictions
    from incprof.nn.profiles import load_profile
    from incprof.spec.registry import load
    from incprof.spec.shapes import place

    placed = place(load("googlenet", "paper", False))
    profile = {**load_profile("l4"), "device_slug": "nvidia-l4", "threads": 1, "dtype": "fp32",
               "probe_s": 0.004}
    env = {"device": "NVIDIA L4", "threads": 1, "dtype": "fp32", "probe_ms": 5.0, "tf32": None}
    as_profiled = [{"row": p.name} for p in placed]
    as_run = [{"row": p.name} for p in placed]
    calibrated = add_predictions(as_profiled, placed, profile, "fp32", 4, 1, None)
    run = add_predictions(as_run, placed, profile, "fp32", 4, 1, env)
    assert calibrated["speed_factor"] is None and run["speed_factor"] == 1.25  # 5 ms over 4 ms
    assert run["network_ms_at_calibration"] == calibrated["network_ms"]
    assert run["network_ms"] == pytest.approx(1.25 * calibrated["network_ms"], rel=1e-6)
    for bound, images_per_s in calibrated["ceilings"].items():  # 1.25 times slower: 0.8 times
        assert run["ceilings"][bound] == pytest.approx(0.8 * images_per_s, abs=0.01)  # 2 places
    for before, after in zip(as_profiled, as_run):
        assert after["predicted_ms"] == pytest.approx(1.25 * before["predicted_ms"], abs=1e-4)  # 4 places


def test_the_speed_probe_runs_only_where_the_profile_has_a_probe_time_to_set_it_against(
        tmp_path, monkeypatch):
    import json
    from pathlib import Path

    import torch

    from incprof.nn.latency import TimingOptions
    from incprof.nn.machine import cpu_name
    from incprof.nn.profiles import load_profile, profile_file, slug

    monkeypatch.setenv("INCPROF_CACHE", str(tmp_path))
    tiny = str(Path(__file__).parents[1] / "data" / "tiny.yaml")
    quick = TimingOptions(device="cpu", warmup=1, repeats=1, threads=1)

    def run(**given):
        records = profile_records(tiny, aux=False, latency=quick, **given)
        return records.attrs["meta"]["latency_env"], records.attrs["totals"]["prediction"]

    env, prediction = run()  # no calibrated profile: nothing to set a probe against
    assert env["probe_ms"] is None and prediction is None
    env, prediction = run(device_profile="l4")  # a datasheet's: no probe time
    assert env["probe_ms"] is None and prediction["speed_factor"] is None
    assert "no speed probe" in prediction["speed_note"]
    # a calibrated profile of this CPU at one thread (the L4's rates stand in for the measured)
    calibrated = {**load_profile("l4"), "device_type": "cpu", "device_slug": slug(cpu_name()),
                  "threads": 1, "dtype": "fp32", "probe_s": 0.5}
    path = profile_file(cpu_name(), 1, "fp32", torch.__version__)
    path.write_text(json.dumps(calibrated))
    env, prediction = run()
    assert env["probe_ms"] > 0 and prediction["speed_factor"] == round(env["probe_ms"] / 500, 4)
    path.write_text(json.dumps({**calibrated, "threads": 2}))  # another thread count
    env, prediction = run()
    assert env["probe_ms"] is None and "another device" in prediction["speed_note"]


def test_the_network_is_its_rows_plus_their_new_outputs_written_out_of_the_caches():
    from incprof.analysis.predicted import add_predictions
    from incprof.spec.layers import Conv, Pool
    from incprof.spec.shapes import Placed

    # a CPU profile whose copies run at 1 TB/s up to 16 MiB and at 0.25 TB/s from main memory;
    # two small rows: a 1x1 conv 8 -> 16 on 10x10 (no BatchNorm; its ReLU in place) and a 2x2
    # max pool to 16x5x5; each writes one new output, within a pass twice its bytes at main
    # memory's bandwidth less the same at its own
    ops = ("conv 1x1", "pool max", "relu", "linear")
    profile = {"name": "hand", "device_type": "cpu", "calibrated": True, "source": "test",
               "rates": {"fp32": {op: [[1, 1, 1e9]] for op in ops}},
               "bandwidth": [[2**24, 1e12], [2**34, 2.5e11]], "overhead_s": 1e-6}
    placed = [Placed("conv", (Conv(out=16, kernel=(1, 1)),), (8, 10, 10), (16, 10, 10)),
              Placed("pool", (Pool(kind="max", kernel=(2, 2), stride=(2, 2)),), (16, 10, 10),
                     (16, 5, 5))]
    records = [{"row": p.name} for p in placed]
    p = add_predictions(records, placed, profile, "fp32", 4, 1, None)
    written = 2 * (16 * 10 * 10 + 16 * 5 * 5) * 4
    assert p["in_network_ms"] == pytest.approx((written / 2.5e11 - written / 1e12) * 1000,
                                               abs=1e-4)
    assert p["network_ms"] == pytest.approx(
        sum(r["predicted_ms"] for r in records) + p["in_network_ms"], abs=2e-4)


def test_a_timed_run_reads_its_device_profile_once(monkeypatch):
    from conftest import DATA
    from incprof.analysis import predicted
    from incprof.nn.timing import TimingOptions
    from incprof.spec.registry import load_spec

    calls = []
    real = predicted.resolve_profile

    def counting(ref, env, dtype):
        calls.append(dtype)
        return real(ref, env, dtype)

    monkeypatch.setattr(predicted, "resolve_profile", counting)
    records = profile_records(load_spec(DATA / "tiny.yaml"), device_profile="h100-sxm",
                              latency=TimingOptions(device="cpu", warmup=1, repeats=2))
    assert calls == ["fp32"]  # for the probe's question, then kept for the prediction
    assert records.attrs["totals"]["prediction"]["profile"].startswith("NVIDIA H100")
