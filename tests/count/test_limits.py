"""The memory guard: an upper bound of what each layer kind really takes, checked before anything is
allocated, on every path that builds a network."""

import gc
import os
import sys

import pytest

from incprof.errors import ResourceError
from incprof.count.limits import OVERHEAD_BYTES, check_memory, estimate_bytes
from incprof.spec.ceilings import Ceilings, using
from incprof.spec.layers import LRN, Branches, Conv, Dropout, GlobalAvgPool, Linear, Pool, Softmax
from incprof.spec.model import ArchSpec, Row
from incprof.units import human


def one_layer(layer, shape) -> ArchSpec:
    """A spec of one row holding one layer, on an input of ``shape`` (C, H, W)."""
    return ArchSpec(name="one", title="one", source="test", input=shape,
                    rows=(Row(name="layer", type="t", layers=(layer,)),))


C, H = 8, 32
MAIN = (C, H, H)
# Per kind: the layer, and what it takes per image on an 8x32x32 input, in bytes, worked out from
# how torch runs it on CPU (the measurements are in incprof/limits.py's docstring):
# (params, values written: input + outputs, temporary beside them, in bytes at 4 bytes a value).
# A conv's fp32 copies pad channels to 16: 16 x 32 x 32 = 2N values for 4, 8 or 16 channels.
N = C * H * H
KINDS = {
    "conv 3x3": (Conv(out=16, kernel=(3, 3), padding=(1, 1)),
                 9 * 8 * 16 + 16, N + 2 * N, (2 * N + 2 * N) * 4),  # fp32 copies, in and out
    "conv + BN": (Conv(out=8, kernel=(3, 3), padding=(1, 1), bias=False, bn_eps=1e-3),
                  9 * 8 * 8 + 2 * 8, 2 * N, 4 * N * 4 + N * 4),  # and BN's own output
    "conv 7x7/2": (Conv(out=8, kernel=(7, 7), stride=(2, 2), padding=(3, 3)),
                   49 * 64 + 8, N + N // 4, (2 * N + N // 2) * 4),
    "max pool 3x3/2": (Pool("max", (3, 3), (2, 2), (1, 1)), 0, N + N // 4, N // 4 * 8),  # int64
    "avg pool 3x3/1": (Pool("avg", (3, 3), (1, 1), (1, 1)), 0, 2 * N, 0),
    "LRN 5": (LRN(size=5), 0, 2 * N, (2 * C + 5) * H * H * 4),  # padded square, window mean...
    "linear": (Linear(out=10), N * 10 + 10, N + 10, N * 4),  # the flattened input, if copied
    "global avg pool": (GlobalAvgPool(), 0, N + C, 0),
    "softmax": (Softmax(), 0, 2 * N, 0),
    "dropout": (Dropout(0.4), 0, 2 * N, 0),
    # branches run one after another: the larger temporary (the 3x3 conv's); the concatenation
    # is written too
    "branches": (Branches(((Conv(out=4, kernel=(1, 1)),),
                           (Conv(out=4, kernel=(3, 3), padding=(1, 1)),))),
                 8 * 4 + 4 + 9 * 8 * 4 + 4, N + N // 2 + N // 2 + N, 4 * N * 4),
}


@pytest.mark.parametrize("kind", KINDS)
def test_estimate_per_layer_kind(kind):
    layer, params, values, temporary = KINDS[kind]
    spec = one_layer(layer, MAIN)
    for batch in (1, 3):
        # params built in fp32 plus one cast copy; values and the temporary per image
        assert estimate_bytes(spec, batch_size=batch) == (
            params * 8 + batch * (values * 4 + temporary) + OVERHEAD_BYTES)


def test_estimate_in_16_bits():
    # values take 2 bytes, the CPU kernels' fp32 copies keep 4, max-pool indices 8
    conv = one_layer(Conv(out=16, kernel=(3, 3), padding=(1, 1)), MAIN)
    assert estimate_bytes(conv, dtype="fp16") == (
        (9 * 8 * 16 + 16) * 6 + 3 * N * 2 + 4 * N * 4 + OVERHEAD_BYTES)
    pool = one_layer(Pool("max", (3, 3), (2, 2), (1, 1)), MAIN)
    assert estimate_bytes(pool, dtype="bf16") == (N + N // 4) * 2 + N // 4 * 8 + OVERHEAD_BYTES
    gap = one_layer(GlobalAvgPool(), MAIN)  # averaged in an fp32 copy of the input
    assert estimate_bytes(gap, dtype="fp16") == (N + C) * 2 + N * 4 + OVERHEAD_BYTES


# ------------------------------------------------------------------ refusal before any allocation
@pytest.fixture
def no_allocation(monkeypatch):
    """Make building a network or allocating an input fail loudly."""
    import torch

    import incprof.nn.build

    class Allocated(Exception):
        pass

    def refuse(*args, **kwargs):
        raise Allocated("the guard let this through")

    monkeypatch.setattr(incprof.nn.build, "build", refuse)
    for name in ("zeros", "randn", "empty"):
        monkeypatch.setattr(torch, name, refuse)
    return Allocated


def _paths(spec, batch, limit, dtype="fp32"):
    """Every library path that builds a network on real tensors, at ``batch``, under ``limit``
    bytes (the cross-check, incprof.nn.crosscheck, runs on an empty batch: weights only)."""
    from incprof.nn.bench import bench_records
    from incprof.nn.latency import TimingOptions, time_spec
    from incprof.analysis.profile import profile_records

    timing = TimingOptions(device="cpu", dtype=dtype, warmup=1, repeats=1)
    yield "time_spec", lambda: time_spec(spec, None, batch, timing, max_memory=limit)
    yield "bench", lambda: bench_records(spec, [1, batch], timing, max_memory=limit)
    yield "profile --latency", lambda: profile_records(spec, batch_size=batch, latency=timing,
                                                       max_memory=limit)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_just_over_the_limit_is_refused_before_anything_is_built(kind, no_allocation):
    layer, params, values, temporary = KINDS[kind]
    spec = one_layer(layer, MAIN)
    batch = 4
    needed = params * 8 + batch * (values * 4 + temporary) + OVERHEAD_BYTES
    for name, run in _paths(spec, batch, needed - 1):
        with pytest.raises(ResourceError, match=f"about {human(needed)}B") as refused:
            run()
        assert "lower --batch-size" in str(refused.value), name
    for name, run in _paths(spec, batch, needed):  # at the estimate, the guard lets it through
        with pytest.raises(no_allocation):
            run()


def test_the_timing_dtype_sets_the_estimate(no_allocation):
    from incprof.nn.latency import TimingOptions, time_spec

    spec = one_layer(Pool("max", (3, 3), (2, 2), (1, 1)), MAIN)
    needed = estimate_bytes(spec, dtype="fp16")
    assert needed == (N + N // 4) * 2 + N // 4 * 8 + OVERHEAD_BYTES
    fp16 = TimingOptions(device="cpu", dtype="fp16")
    with pytest.raises(ResourceError, match=r"\(fp16\)"):
        time_spec(spec, None, 1, fp16, max_memory=needed - 1)
    with pytest.raises(no_allocation):
        time_spec(spec, None, 1, fp16, max_memory=needed)


def test_compare_and_sweep_are_guarded(no_allocation):
    from incprof.analysis.compare import compare_modules_records, compare_networks_records, resolve_side
    from incprof.nn.latency import TimingOptions
    from incprof.analysis.sweep import sweep_records

    naive, reduced = resolve_side("naive"), resolve_side("reduced")
    for compare in (compare_modules_records, compare_networks_records):
        with pytest.raises(ResourceError):
            compare(naive, reduced, latency=TimingOptions(device="cpu"), max_memory=OVERHEAD_BYTES)
    # a large input side within --max-side, through sweep's timing
    tiny = one_layer(Conv(out=8, kernel=(3, 3)), (3, 8, 8))
    big = estimate_bytes(tiny, (8000, 8000))
    assert big >= 8 * 7998 * 7998 * 4 * 2
    with pytest.raises(ResourceError):
        sweep_records(tiny, [8, 8000], latency=TimingOptions(device="cpu"), max_memory=big - 1)


def test_default_limit_is_half_of_what_is_available(monkeypatch):
    import incprof.count.limits

    spec = one_layer(LRN(size=5), MAIN)
    needed = estimate_bytes(spec)
    monkeypatch.setattr(incprof.count.limits, "available_bytes", lambda: 2 * needed - 2)
    with pytest.raises(ResourceError, match="half the available memory"):
        check_memory(spec)
    monkeypatch.setattr(incprof.count.limits, "available_bytes", lambda: 2 * needed)
    assert check_memory(spec) == needed


# ------------------------------------------------------------- the estimate against measured peaks
def _status(key: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _measured_peak(run) -> int:
    """Peak resident memory ``run`` adds, from Linux's high-water mark (reset through
    /proc/self/clear_refs), in bytes. Deterministic to a few pages for tensors this large."""
    gc.collect()
    try:  # hand freed heap pages back, so that reusing them shows in the peak too (glibc)
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    before = _status("VmRSS:")
    run()
    return _status("VmHWM:") - before


MEASURED = {  # layers whose temporaries are large, on an input of 8 x 1100 x 1100 (38.7 MB)
    "conv 3x3": Conv(out=8, kernel=(3, 3), padding=(1, 1)),
    "conv 3x3, 1 channel": Conv(out=1, kernel=(3, 3), padding=(1, 1)),  # on 1 x 1100 x 1100
    "conv + BN": Conv(out=8, kernel=(3, 3), padding=(1, 1), bias=False, bn_eps=1e-3),
    "conv 7x7/2": Conv(out=8, kernel=(7, 7), stride=(2, 2), padding=(3, 3)),
    "max pool 3x3/1": Pool("max", (3, 3), (1, 1), (1, 1)),
    "max pool 3x3/2": Pool("max", (3, 3), (2, 2), (1, 1)),
    "LRN 5": LRN(size=5),
    "branches": Branches(((Conv(out=8, kernel=(1, 1)),), (Pool("max", (3, 3), (1, 1), (1, 1)),))),
}


def _peak_of(kind: str) -> int:
    """The measured peak of one MEASURED layer on its 1100 x 1100 input, on one thread."""
    import torch

    from incprof.nn.build import build

    channels = 1 if "1 channel" in kind else 8
    spec = one_layer(MEASURED[kind], (channels, 1100, 1100))

    def run(side):
        model = build(spec, (side, side)).eval()
        with torch.no_grad():
            model(torch.zeros(1, channels, side, side))

    torch.set_num_threads(1)
    run(16)  # load the kernels first
    return _measured_peak(lambda: run(1100))


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
@pytest.mark.parametrize("kind", MEASURED)
def test_estimate_bounds_the_measured_peak(kind):
    """Measured in a fresh process: a long test session's heap would hide part of the peak."""
    pytest.importorskip("torch")
    import subprocess
    from pathlib import Path

    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("no /proc/self/clear_refs here")
    here = str(Path(__file__).resolve().parent)
    code = f"import sys; sys.path[:0] = [{here!r}, {str(Path(here).parent)!r}]; import test_limits; " \
           f"print(test_limits._peak_of({kind!r}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    peak = int(result.stdout.split()[-1])
    channels = 1 if "1 channel" in kind else 8
    spec = one_layer(MEASURED[kind], (channels, 1100, 1100))
    estimate = estimate_bytes(spec)
    assert estimate >= peak, (human(estimate), human(peak))
    if kind != "branches":
        # the bound is real: params and every value written, without the layer's temporaries,
        # fall short of what was measured for these kinds
        from incprof.count.analytic import count_spec

        (counted,) = count_spec(spec)
        written = channels * 1100 * 1100 + counted.counts.activations
        assert 4 * (counted.counts.params + written) < peak, (human(peak))


# ---------------------------------------------------------------------------- bounded in time
def _long(rows: int, kernel: int) -> ArchSpec:
    return ArchSpec(name=f"long{kernel}", title="long", source="test", input=(4, 8, 8),
                    rows=tuple(Row(name=f"r{i}", type="t",
                                   layers=(Conv(out=4, kernel=(kernel, kernel),
                                                padding=(kernel // 2,) * 2),))
                               for i in range(rows)))


@pytest.mark.slow
def test_a_cross_check_of_12000_rows_is_refused_by_the_layer_ceiling_before_building(
        no_allocation):
    from incprof.analysis.compare import compare_modules_records, compare_networks_records

    a, b = _long(12_000, 3), _long(12_000, 1)  # every row differs: one conv each, on each side
    for compare in (compare_modules_records, compare_networks_records):
        with pytest.raises(ResourceError, match="run 24,000 layers, over the ceiling of 2,000"):
            compare(a, b, verify=True)
    counted = compare_networks_records(a, b)  # counting alone is linear in the rows, and runs
    assert sum(r["a_macs"] for r in counted.rows) == 12_000 * 9 * 4 * 4 * 8 * 8
    # raised, the ceiling lets the cross-check through to the build
    with using(Ceilings(max_layers=24_000)), pytest.raises(no_allocation):
        compare_modules_records(_long(3, 3), _long(3, 1), verify=True)


def test_the_layer_ceiling_is_a_global_option():
    from typer.testing import CliRunner

    from incprof.cli.app import app

    # GoogLeNet without aux heads: 9 Inception modules of 4 layers when naive (1x1, 3x3, 5x5, pool)
    # or 7 when reduced (six convs, a pool), and 13 other layers (conv1, max pool, LRN, conv2's
    # 1x1 and 3x3, LRN, three max pools, avg pool, dropout, linear, softmax): 49 + 76 = 125
    result = CliRunner().invoke(app, ["--max-layers", "124", "compare", "naive", "reduced",
                                      "--level", "network"])
    assert result.exit_code == 2
    assert "run 125 layers, over the ceiling of 124" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_estimate_bounds_the_measured_peak_of_a_googlenet_forward():
    """Building GoogLeNet and running it once on real tensors, with its aux heads."""
    torch = pytest.importorskip("torch")
    from incprof.nn.build import build
    from incprof.spec.registry import resolve

    spec = resolve("googlenet")

    def run(batch: int) -> None:
        with torch.no_grad():
            build(spec).eval()(torch.zeros(batch, *spec.input), with_aux=True)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run(1)  # load the kernels first
        try:
            peak = _measured_peak(lambda: run(2))
        except OSError:
            pytest.skip("no /proc/self/clear_refs here")
    finally:
        torch.set_num_threads(threads)
    assert estimate_bytes(spec, batch_size=2) >= peak, human(peak)
