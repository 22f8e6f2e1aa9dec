"""Latency machinery on CPU: statistics with a fake timer, options, errors. No timed assertions."""

import pytest

from conftest import DATA
from incprof.errors import UsageError
from incprof.latency import TimingOptions, adaptive_time, gpu_peak, summarize


class FakeClock:
    """A clock that advances by a fixed step each time a timed step runs."""

    def __init__(self, samples_ms):
        self.samples = list(samples_ms)
        self.now = 0.0
        self.calls = 0

    def clock(self):
        return self.now

    def step(self):
        value = self.samples[min(self.calls, len(self.samples) - 1)]
        self.calls += 1
        self.now += value / 1000
        return value


def test_summarize_quantiles():
    stats = summarize([float(v) for v in range(1, 12)])  # 1..11 ms
    assert stats.median_ms == 6 and stats.repeats == 11
    assert (stats.p10_ms, stats.p90_ms) == (2.0, 10.0)
    assert (stats.q25_ms, stats.q75_ms, stats.iqr_ms) == (3.5, 8.5, 5.0)
    assert summarize([4.0]).p90_ms == 4.0
    with pytest.raises(ValueError):
        summarize([])


def test_fixed_counts():
    fake = FakeClock([5.0])
    stats = adaptive_time(fake.step, 10.0, TimingOptions(warmup=3, repeats=7), fake.clock)
    assert (stats.warmup, stats.repeats, fake.calls) == (3, 7, 10)
    assert stats.median_ms == 5.0


def test_adaptive_stops_when_the_median_is_stable():
    fake = FakeClock([9.0, 9.0] + [5.0] * 500)  # slow warm-up, then steady
    options = TimingOptions()
    stats = adaptive_time(fake.step, 100.0, options, fake.clock)
    assert stats.repeats == options.min_repeats  # stable as soon as it may stop
    assert stats.median_ms == 5.0 and stats.warmup >= 2


def test_adaptive_stops_at_the_budget():
    noisy = [1.0, 50.0, 3.0, 90.0, 7.0, 20.0, 60.0, 2.0] * 100
    fake = FakeClock(noisy)
    stats = adaptive_time(fake.step, 0.5, TimingOptions(rel_tol=1e-9), fake.clock)
    assert 3 <= stats.repeats < len(noisy)
    assert fake.now >= 0.5  # it ran until the budget was spent


def test_gpu_peaks_name_their_source():
    peak = gpu_peak("NVIDIA H100 80GB HBM3", "bf16")
    assert peak["macs_per_s"] == 989e12 / 2 and "datasheet" in peak["source"]
    assert gpu_peak("NVIDIA H200", "fp32")["bytes_per_s"] == 4.8e12
    assert gpu_peak("Some CPU", "fp32") is None


torch = pytest.importorskip("torch")
from incprof.latency import resolve_device, time_spec  # noqa: E402
from incprof.spec import load_spec, resolve  # noqa: E402

QUICK = TimingOptions(device="cpu", warmup=1, repeats=3)


def test_time_spec_on_cpu_times_every_row_and_the_network():
    spec = load_spec(DATA / "tiny.yaml")
    timings = time_spec(spec, None, 2, QUICK)
    assert list(timings.rows) == [r.name for r in spec.rows]
    assert all(s.repeats == 3 and s.warmup == 1 and s.median_ms > 0 for s in timings.rows.values())
    assert timings.network.repeats == 3
    env = timings.env
    assert env["device_type"] == "cpu" and env["batch_size"] == 2 and env["threads"] >= 1
    assert env["memory_format"].startswith("contiguous") and env["peak"] is None


def test_channels_last_and_profile_columns():
    from incprof.profiler import profile

    options = TimingOptions(device="cpu", warmup=1, repeats=3, channels_last=True)
    df = profile(str(DATA / "tiny.yaml"), latency=options)
    assert df.attrs["meta"]["latency_env"]["memory_format"] == "channels_last"
    main = df[~df["aux"]]
    assert main["latency_ms"].notna().all() and (main["latency_repeats"] == 3).all()
    conv = df.set_index("row").loc["conv"]
    # bytes moved: input 3x8x8 + output 4x8x8 + 112 params, 4 bytes each
    assert conv["bytes_moved"] == 4 * (3 * 64 + 4 * 64 + 112)
    assert conv["macs_per_byte"] == round(6912 / conv["bytes_moved"], 3)
    t = df.attrs["totals"]["latency"]
    assert t["sum_of_rows_ms"] == round(float(main["latency_ms"].sum()), 4)


def test_missing_cuda_and_bad_device():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(UsageError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(UsageError, match="CUDA is not available"):
        resolve_device("cuda:1")
    with pytest.raises(UsageError, match="must be auto, cpu"):
        resolve_device("tpu")
    assert resolve_device("auto").type == "cpu"


def test_unsupported_dtype_is_a_clear_error():
    # LocalResponseNorm has no bfloat16 kernel on CPU in torch 2.13
    with pytest.raises(UsageError, match="--dtype bf16 does not run on cpu"):
        time_spec(resolve("googlenet"), None, 1, TimingOptions(device="cpu", dtype="bf16",
                                                               warmup=1, repeats=1))


def test_out_of_memory_rows_are_reported_and_others_still_run(monkeypatch):
    import incprof.latency as latency

    real = latency.adaptive_time
    calls = {"n": 0}

    def flaky(step, budget, options, clock=None):
        calls["n"] += 1
        if calls["n"] == 2:  # the second row runs out of memory
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return real(step, budget, options)

    monkeypatch.setattr(latency, "adaptive_time", flaky)
    timings = time_spec(load_spec(DATA / "tiny.yaml"), None, 4, QUICK)
    assert timings.rows["pool"] == "CUDA out of memory at batch 4"
    assert timings.rows["mixed"].repeats == 3 and timings.network.repeats == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_timing_uses_events():
    timings = time_spec(resolve("googlenet"), None, 1, TimingOptions(device="cuda", warmup=2,
                                                                     repeats=5))
    assert timings.env["device_type"] == "cuda" and timings.env["cudnn"]
    assert timings.network.median_ms > 0


def test_compile_time_is_reported_apart():
    timings = time_spec(load_spec(DATA / "tiny.yaml"), None, 1,
                        TimingOptions(device="cpu", warmup=1, repeats=2, compile=True))
    assert timings.compile_s is not None and timings.compile_s > 0
    assert timings.env["compile"] is True and timings.network.repeats == 2


def test_sweep_with_latency():
    import pandas as pd

    from incprof.sweep import sweep

    df = sweep(load_spec(DATA / "tiny.yaml"), [4, 8, 1], latency=QUICK).set_index("input")
    assert df.loc["8x8x3", "latency_ms"] > 0 and df.loc["4x4x3", "latency_ms"] > 0
    assert not df.loc["1x1x3", "valid"] and pd.isna(df.loc["1x1x3", "latency_ms"])
    assert df.attrs["meta"]["latency_env"]["device_type"] == "cpu"


def test_latency_dtype_sets_the_memory_bytes():
    from incprof.profiler import profile

    options = TimingOptions(device="cpu", dtype="bf16", warmup=1, repeats=2)
    df = profile(str(DATA / "tiny.yaml"), latency=options, dtype="fp32").set_index("row")
    assert df.loc["conv", "activation_bytes"] == 2 * 4 * 8 * 8
    assert df.loc["conv", "bytes_moved"] == 2 * (3 * 64 + 4 * 64 + 112)
    assert df.attrs["meta"]["dtype"] == "bf16"
