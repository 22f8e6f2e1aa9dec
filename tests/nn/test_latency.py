"""Latency machinery on CPU: statistics with a fake timer, options, errors, and every CUDA branch
through a fake torch.cuda (monkeypatched), so these tests run on every machine. No timed
assertions."""

import pytest

from conftest import DATA
from incprof.errors import UsageError
from incprof.nn.timing import SPREAD_LIMIT, Stats, TimingOptions, adaptive_time, instability, summarize


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
    assert stats.unstable == "7 repeats, fewer than 20"  # fixed counts below the minimum


def test_adaptive_stops_when_the_median_is_stable():
    fake = FakeClock([9.0, 9.0] + [5.0] * 500)  # slow warm-up, then steady
    options = TimingOptions()
    stats = adaptive_time(fake.step, 100.0, options, fake.clock)
    assert stats.repeats == options.min_repeats  # stable as soon as it may stop
    assert stats.median_ms == 5.0 and stats.warmup >= 2
    assert stats.unstable is None


def test_the_budget_never_stops_before_the_minimum_repeats():
    fake = FakeClock([5.0])  # each repeat alone is over the budget of 1 ms
    stats = adaptive_time(fake.step, 0.001, TimingOptions(rel_tol=0.0), fake.clock)
    assert stats.repeats == 20 and stats.unstable is None


def test_adaptive_stops_at_the_budget():
    noisy = [1.0, 50.0, 3.0, 90.0, 7.0, 20.0, 60.0, 2.0] * 100
    fake = FakeClock(noisy)
    stats = adaptive_time(fake.step, 0.5, TimingOptions(rel_tol=1e-9), fake.clock)
    assert 20 <= stats.repeats < len(noisy)
    assert fake.now >= 0.5  # it ran until the budget was spent
    assert stats.unstable.startswith("p90/p10 ")  # samples from 1 to 90 ms


def test_instability_reasons_and_thresholds():
    def stats(p10, p90, repeats=20):
        return Stats(p10, p10, p90, p10, p90, repeats, 2)

    assert SPREAD_LIMIT == 1.5
    assert instability(stats(1.0, 1.5), 20) is None  # at the limit is not above it
    assert instability(stats(1.0, 1.6), 20) == "p90/p10 1.60 > 1.5"
    assert instability(stats(1.0, 1.0, 19), 20) == "19 repeats, fewer than 20"
    assert instability(stats(2.0, 2.0), 20, "load 3 > 2 threads") == "load 3 > 2 threads"
    assert instability(stats(0.0, 0.0), 20) is None  # a zero p10 has no ratio


torch = pytest.importorskip("torch")
from incprof.nn.latency import resolve_device, time_spec
from incprof.spec.registry import load_spec, resolve

QUICK = TimingOptions(device="cpu", warmup=1, repeats=3)


class FakeCuda:
    """Stands in for torch.cuda on a CPU machine: one device of a given name, events that read a
    fake clock, and memory counters the test sets."""

    def __init__(self, monkeypatch, name="NVIDIA H100 80GB HBM3"):
        self.now_ms, self.allocated, self.peak, self.calls = 0.0, 0, 0, []
        fake = self

        class Event:
            def __init__(self, enable_timing=False):
                assert enable_timing
                self.at = None

            def record(self):
                self.at = fake.now_ms

            def synchronize(self):
                fake.calls.append("event.synchronize")

            def elapsed_time(self, other):
                return other.at - self.at

        cuda = torch.cuda
        for attr, value in {
            "is_available": lambda: True, "device_count": lambda: 1,
            "get_device_name": lambda device=None: name, "Event": Event,
            "synchronize": lambda device=None: fake.calls.append("synchronize"),
            "reset_peak_memory_stats": lambda device=None: fake.reset(),
            "memory_allocated": lambda device=None: fake.allocated,
            "max_memory_allocated": lambda device=None: fake.peak,
        }.items():
            monkeypatch.setattr(cuda, attr, value)
        monkeypatch.setattr(torch.version, "cuda", "12.8")
        monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 91000)

    def reset(self):
        self.calls.append("reset")
        self.peak = self.allocated


def test_missing_cuda_and_bad_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(UsageError, match="CUDA is not available"):
        resolve_device("cuda:1")
    with pytest.raises(UsageError, match="must be auto, cpu"):
        resolve_device("tpu")
    assert resolve_device("auto").type == "cpu"


def test_cuda_devices_resolve_on_a_fake_gpu(monkeypatch):
    FakeCuda(monkeypatch)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(UsageError, match=r"only 1 CUDA device"):
        resolve_device("cuda:1")


def test_cuda_environment_records_tf32_and_the_peak_of_that_math(monkeypatch):
    from types import SimpleNamespace

    from incprof.nn.latency import environment

    FakeCuda(monkeypatch)
    cuda = torch.device("cuda", 0)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)  # torch's default
    monkeypatch.setattr(torch.backends.cuda, "matmul", SimpleNamespace(allow_tf32=False))
    env = environment(cuda, TimingOptions(dtype="fp32"), 1)
    assert env["device"] == "NVIDIA H100 80GB HBM3" and env["cuda"] == "12.8"
    assert env["tf32"] == {"conv": True, "matmul": False}
    # H100 SXM: TF32 989 TFLOPS printed with sparsity, BF16 1,979 (NVIDIA's H100 datasheet)
    assert (env["peak"]["conv"]["math"], env["peak"]["conv"]["tflops"]) == ("tf32", 989 / 2)
    assert (env["peak"]["linear"]["math"], env["peak"]["linear"]["tflops"]) == ("fp32", 67.0)
    assert env["measured_peak_method"] == "torch.cuda.max_memory_allocated"
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    assert environment(cuda, TimingOptions(), 1)["peak"]["conv"]["tflops"] == 67.0
    assert environment(cuda, TimingOptions(dtype="bf16"), 1)["peak"]["conv"]["tflops"] == 1979 / 2


def test_an_unknown_gpu_gets_no_peak(monkeypatch):
    from incprof.nn.latency import environment

    FakeCuda(monkeypatch, name="NVIDIA H200 NVL")
    env = environment(torch.device("cuda", 0), TimingOptions(), 1)
    assert env["device"] == "NVIDIA H200 NVL" and env["peak"] is None


def test_cuda_steps_are_timed_with_events(monkeypatch):
    from incprof.nn.latency import timer

    fake = FakeCuda(monkeypatch)

    def work():
        fake.now_ms += 7.5

    step = timer(work, torch.device("cuda", 0))
    assert step() == 7.5 and fake.calls == ["event.synchronize"]


def test_cuda_peak_memory_is_the_rise_over_what_was_allocated(monkeypatch):
    from incprof.nn.latency import peak_memory_bytes

    fake = FakeCuda(monkeypatch)
    fake.allocated = 1000  # weights and input

    def forward():
        assert fake.calls[-1] == "reset"  # the peak counter starts at this forward
        fake.peak = 1000 + 4096

    assert peak_memory_bytes(forward, torch.device("cuda", 0)) == 4096


def test_cpu_peak_memory_follows_allocations_and_frees():
    from incprof.nn.latency import peak_memory_bytes

    def forward():
        a = torch.empty(1000)  # 4,000 bytes
        b = torch.empty(3000)  # 12,000: 16,000 live
        del a  # 12,000 live
        c = torch.empty(2000)  # 8,000: 20,000 live, the peak
        return b, c

    assert peak_memory_bytes(forward, torch.device("cpu")) == 20_000


def test_peak_fraction_uses_the_math_each_row_runs(monkeypatch):
    import incprof.nn.latency as latency
    from incprof.analysis.profile import profile_records

    FakeCuda(monkeypatch)
    env = latency.environment(torch.device("cuda", 0), TimingOptions(), 1)  # TF32 convs only
    spec = resolve("googlenet")

    def fake_time_spec(spec, input_hw, batch_size, options, progress=None, max_memory=None,
                       probe=None):
        timings = latency.Timings(env=env)
        timings.rows = {r.name: Stats(0.001, 0.001, 0.001, 0.001, 0.001, 20, 2) for r in spec.rows}
        timings.network = Stats(1.0, 1.0, 1.0, 1.0, 1.0, 20, 2)
        return timings

    monkeypatch.setattr(latency, "time_spec", fake_time_spec)
    df = profile_records(spec, aux=False, latency=TimingOptions(device="cuda")).to_frame().set_index("row")
    # 3a: 28*28*163,328 = 128,049,152 MACs (Table 1) in 1 us, over TF32's 989 / 2 TFLOPS / 2
    assert df.loc["inception_3a", "peak_fraction"] == round(128_049_152 / 1e-6 / 247.25e12, 4)
    # the classifier: 1024 x 1000 MACs, a matmul, fp32 (TF32 off for matmuls): 67 TFLOPS / 2
    assert df.loc["linear", "peak_fraction"] == round(1_024_000 / 1e-6 / 33.5e12, 4)


def test_cuda_out_of_memory_while_building_or_in_the_first_pass(monkeypatch):
    import incprof.nn.build

    def no_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    spec = load_spec(DATA / "tiny.yaml")
    monkeypatch.setattr(incprof.nn.build, "build", no_memory)
    with pytest.raises(UsageError, match="CUDA out of memory building the network at batch 2"):
        time_spec(spec, None, 2, QUICK)

    class Exhausting(torch.nn.Module):
        def __getattr__(self, name):
            return no_memory

    monkeypatch.setattr(incprof.nn.build, "build", lambda *args: Exhausting())
    with pytest.raises(UsageError, match="CUDA out of memory in one forward pass at batch 2"):
        time_spec(spec, None, 2, QUICK)


def test_threads_and_load_are_recorded_and_a_busy_machine_is_unstable(monkeypatch):
    import incprof.nn.latency as latency

    before = torch.get_num_threads()
    spec = load_spec(DATA / "tiny.yaml")
    monkeypatch.setattr(latency, "load_average", lambda: 0.0)
    quiet = time_spec(spec, None, 1, TimingOptions(device="cpu", warmup=1, repeats=20, threads=1))
    assert quiet.env["threads"] == 1 and torch.get_num_threads() == before  # restored
    assert quiet.env["load_avg"] == 0.0 and quiet.env["busy"] is None
    assert all("load" not in (s.unstable or "") for s in quiet.rows.values())
    monkeypatch.setattr(latency, "load_average", lambda: 3.5)
    busy = time_spec(spec, None, 1, TimingOptions(device="cpu", warmup=1, repeats=20, threads=2))
    assert busy.env["busy"] == "load 3.5 > 2 CPU threads"
    assert all(s.unstable.endswith("load 3.5 > 2 CPU threads") for s in busy.rows.values())
    assert busy.network.unstable.endswith("load 3.5 > 2 CPU threads")


def test_time_spec_on_cpu_times_every_row_and_the_network():
    spec = load_spec(DATA / "tiny.yaml")
    timings = time_spec(spec, None, 2, QUICK)
    assert list(timings.rows) == [r.name for r in spec.rows]
    assert all(s.repeats == 3 and s.warmup == 1 and s.median_ms > 0 for s in timings.rows.values())
    assert timings.network.repeats == 3
    env = timings.env
    assert env["device_type"] == "cpu" and env["batch_size"] == 2 and env["threads"] >= 1
    assert env["memory_format"].startswith("contiguous") and env["peak"] is None
    assert env["tf32"] is None and env["min_repeats"] == 20
    assert timings.network.unstable.startswith("3 repeats, fewer than 20")
    assert timings.measured_peak_bytes > 0
    assert env["probe_ms"] is None  # no speed probe unless asked for
    asked = []
    probed = time_spec(spec, None, 2, QUICK, rows=False, probe=lambda env: asked.append(env) or 1)
    assert probed.env["probe_ms"] > 0  # the speed probe, timed beside the network
    assert asked == [probed.env]  # asked once, before the timing, with the run's environment
    declined = time_spec(spec, None, 2, QUICK, rows=False, probe=lambda env: False)
    assert declined.env["probe_ms"] is None


def test_every_timing_runs_the_same_weights_and_input_and_leaves_the_generator_alone(
        monkeypatch):
    import torch

    from incprof.nn import build as build_module

    seen = []
    real = build_module.build

    def build(*args, **kwargs):  # keeps each network built for a timing
        seen.append(real(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(build_module, "build", build)
    spec = load_spec(DATA / "tiny.yaml")
    torch.manual_seed(5)
    state = torch.get_rng_state()
    timings = time_spec(spec, None, 1, QUICK, rows=False)
    assert torch.equal(torch.get_rng_state(), state)
    time_spec(spec, None, 1, QUICK, rows=False)
    torch.manual_seed(0)  # the reference: a build from torch's generator seeded 0
    expected = real(spec)
    for network in seen:
        assert all(torch.equal(a, b) for a, b in zip(network.state_dict().values(),
                                                     expected.state_dict().values()))
    assert len(seen) == 2 and timings.env["inputs"] == "a standard normal input (seed 0)"
    assert timings.env["weights"] == "weights drawn as torch initialises them (seed 0)"


def test_channels_last_and_profile_columns():
    from incprof.analysis.profile import profile_records

    options = TimingOptions(device="cpu", warmup=1, repeats=3, channels_last=True)
    df = profile_records(str(DATA / "tiny.yaml"), latency=options).to_frame()
    assert df.attrs["meta"]["latency_env"]["memory_format"] == "channels_last"
    main = df[~df["aux"]]
    assert main["latency_ms"].notna().all() and (main["latency_repeats"] == 3).all()
    conv = df.set_index("row").loc["conv"]
    # bytes moved: input 3x8x8 + output 4x8x8 + 112 params, 4 bytes each
    assert conv["bytes_moved"] == 4 * (3 * 64 + 4 * 64 + 112)
    assert conv["macs_per_byte"] == round(6912 / conv["bytes_moved"], 3)
    t = df.attrs["totals"]["latency"]
    assert t["sum_of_rows_ms"] == round(float(main["latency_ms"].sum()), 4)
    assert main["latency_unstable"].str.startswith("3 repeats, fewer than 20").all()
    assert t["unstable"] == [*main["row"], "network"]
    model = df.attrs["totals"]["peak_activation_bytes"]
    assert t["measured_over_model_peak"] == round(t["measured_peak_bytes"] / model, 2)


def test_measured_peak_memory_exceeds_the_model_for_googlenet():
    """The model keeps layer inputs and outputs only; a real pass also holds LRN temporaries and
    conv scratch space, so the measured peak must be above it."""
    from incprof.analysis.profile import profile_records

    records = profile_records("googlenet", aux=False,
                              latency=TimingOptions(device="cpu", warmup=1, repeats=1))
    t = records.attrs["totals"]
    assert t["latency"]["measured_peak_bytes"] > t["peak_activation_bytes"]


def test_unstable_figures_are_marked_in_the_text_outputs():
    from incprof.render import profile as render_profile
    from incprof.analysis.profile import profile_records

    records = profile_records(str(DATA / "tiny.yaml"), latency=QUICK)
    text = render_profile.to_text(records)
    # the terminal layout may put the latency columns in a continuation table led by the row names
    conv = [line for line in text.splitlines() if line.strip().startswith("conv ")]
    ms = next(r["latency_ms"] for r in records.rows if r["row"] == "conv")
    assert any(f"{ms:.3f}?" in line for line in conv)
    assert "'?' marks an unstable latency: fewer than 20 repeats, p90/p10 above 1.5" in text
    assert "UNSTABLE: 3 repeats, fewer than 20" in text.replace("\n    ", " ")


def test_unsupported_dtype_is_a_clear_error():
    # LocalResponseNorm has no bfloat16 kernel on CPU in torch 2.13
    with pytest.raises(UsageError, match="--dtype bf16 does not run on cpu"):
        time_spec(resolve("googlenet"), None, 1, TimingOptions(device="cpu", dtype="bf16",
                                                               warmup=1, repeats=1))


def test_out_of_memory_rows_are_reported_and_others_still_run(monkeypatch):
    import incprof.nn.latency as latency

    real, made = latency.timer, []

    def flaky(fn, device, cpu_ms=None):
        made.append(fn)
        step = real(fn, device, cpu_ms)
        if len(made) != 3:  # the network's, then one per row: the second row is the pool
            return step
        calls = []

        def pool_step():
            calls.append(1)
            if len(calls) > 2:  # out of memory after its first round
                raise torch.cuda.OutOfMemoryError("CUDA out of memory")
            return step()
        return pool_step

    monkeypatch.setattr(latency, "timer", flaky)
    timings = time_spec(load_spec(DATA / "tiny.yaml"), None, 4, QUICK)
    assert list(timings.rows) == ["conv", "pool", "mixed", "gap", "fc"]  # not the aux head
    assert timings.rows["pool"] == "CUDA out of memory at batch 4"
    assert timings.rows["mixed"].repeats == 3 and timings.network.repeats == 3


def test_rows_and_the_network_are_timed_in_interleaved_rounds(monkeypatch):
    import incprof.nn.latency as latency

    real, order, made = latency.timer, [], []

    def tracing(fn, device, cpu_ms=None):
        label = f"row {len(made)}" if made else "network"  # the network's timer comes first
        made.append(label)
        step = real(fn, device, cpu_ms)
        return lambda: order.append(label) or step()

    monkeypatch.setattr(latency, "timer", tracing)
    spec = load_spec(DATA / "tiny.yaml")
    timings = time_spec(spec, None, 1, TimingOptions(device="cpu", warmup=1,
                                                     repeats=latency.ROUNDS))
    rows = len(timings.rows)
    assert rows == 5  # the aux head is not timed
    # one warm-up and one repeat per round: the network, then every row in order, each round
    one_round = ["network", "network"] + [x for i in range(1, rows + 1) for x in [f"row {i}"] * 2]
    later = ["network"] + [f"row {i}" for i in range(1, rows + 1)]
    assert order == one_round + later * (latency.ROUNDS - 1)


def test_on_the_cpu_a_call_far_under_a_millisecond_is_timed_in_blocks_and_says_so():
    from incprof.analysis.profile import profile_records
    from incprof.nn import latency
    from incprof.nn.timing import MAX_BLOCK

    # an empty call timed alone is the clock's cost, about 1.5 us here: a block of a millisecond
    # holds hundreds of them (no more than MAX_BLOCK)
    network, rows = latency.time_in_rounds(lambda: None, {"empty": lambda: None},
                                           torch.device("cpu"), TimingOptions(device="cpu"))
    for stats in (network, rows["empty"]):
        assert 100 < stats.calls_per_repeat <= MAX_BLOCK
    # fixed repeats stay one call each, and the records say how many calls a repeat ran
    records = profile_records(load_spec(DATA / "tiny.yaml"), latency=TimingOptions(
        device="cpu", warmup=1, repeats=2))
    assert [r["latency_calls_per_repeat"] for r in records.rows if not r["aux"]] == [1] * 5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_timing_uses_events():
    timings = time_spec(resolve("googlenet"), None, 1, TimingOptions(device="cuda", warmup=2,
                                                                     repeats=5))
    assert timings.env["device_type"] == "cuda" and timings.env["cudnn"]
    assert timings.network.median_ms > 0
    assert timings.env["tf32"] == {"conv": torch.backends.cudnn.allow_tf32,
                                   "matmul": torch.backends.cuda.matmul.allow_tf32}
    assert timings.measured_peak_bytes > 0


@pytest.mark.slow
def test_compile_time_is_reported_apart():
    timings = time_spec(load_spec(DATA / "tiny.yaml"), None, 1,
                        TimingOptions(device="cpu", warmup=1, repeats=2, compile=True))
    assert timings.compile_s is not None and timings.compile_s > 0
    assert timings.env["compile"] is True and timings.network.repeats == 2


def test_sweep_with_latency():
    import pandas as pd

    from incprof.analysis.sweep import sweep_records

    df = sweep_records(load_spec(DATA / "tiny.yaml"), [4, 8, 1], latency=QUICK).to_frame().set_index("input")
    assert df.loc["8x8x3", "latency_ms"] > 0 and df.loc["4x4x3", "latency_ms"] > 0
    assert not df.loc["1x1x3", "valid"] and pd.isna(df.loc["1x1x3", "latency_ms"])
    assert df.attrs["meta"]["latency_env"]["device_type"] == "cpu"


def test_latency_dtype_sets_the_memory_bytes():
    from incprof.analysis.profile import profile_records

    options = TimingOptions(device="cpu", dtype="bf16", warmup=1, repeats=2)
    df = profile_records(str(DATA / "tiny.yaml"), latency=options, dtype="fp32").to_frame().set_index("row")
    assert df.loc["conv", "activation_bytes"] == 2 * 4 * 8 * 8
    assert df.loc["conv", "bytes_moved"] == 2 * (3 * 64 + 4 * 64 + 112)
    assert df.attrs["meta"]["dtype"] == "bf16"


def test_threads_option_and_unstable_marks_in_bench_compare_and_sweep():
    import json

    from typer.testing import CliRunner

    from incprof.cli.app import app

    fixed = ("--device", "cpu", "--warmup", "1", "--repeats", "2", "--threads", "1")

    def run(*args):
        result = CliRunner().invoke(app, [*args, *fixed])
        assert result.exit_code == 0, result.output
        return result.stdout

    bench = json.loads(run("bench", "--spec", str(DATA / "tiny.yaml"), "--batch-sizes", "1",
                           "-f", "json"))
    assert bench["meta"]["env"]["threads"] == 1
    assert bench["rows"][0]["unstable"].startswith("2 repeats, fewer than 20")
    module = json.loads(run("compare", "naive", "reduced", "--level", "module", "--latency",
                            "--no-verify", "-f", "json"))["module"]
    assert module["meta"]["latency_env"]["threads"] == 1
    assert all(r["a_latency_unstable"].startswith("2 repeats") for r in module["rows"])
    assert module["totals"]["b_latency_unstable"] == "9 of 9 rows unstable"  # nine modules
    text = run("compare", "naive", "reduced", "--level", "module", "--latency", "--no-verify")
    rows = [line for line in text.splitlines() if line.strip().startswith("inception_3a")]
    assert any(row.rstrip().endswith("?") for row in rows)  # the latency columns may continue
    sweep = json.loads(run("sweep", "--spec", str(DATA / "tiny.yaml"), "--sizes", "8",
                           "--latency", "-f", "json"))
    assert sweep["rows"][0]["latency_unstable"].startswith("2 repeats")
    assert sweep["meta"]["latency_env"]["threads"] == 1
