"""Timing that can be argued with: the options, the adaptive stopping rule (in parts, so that other
timings can run between them), the summary statistics and the instability verdict, and the clock
(CUDA events or wall-clock and CPU time)."""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass
from typing import Callable

# A timing whose p90 is more than this many times its p10 is marked unstable.
SPREAD_LIMIT = 1.5
@dataclass(frozen=True)
class TimingOptions:
    """How to time: device, dtype, memory format, compile, and the adaptive stopping rule."""

    device: str = "auto"
    dtype: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    warmup: int | None = None      # None: adaptive (at least 2, about a tenth of the budget)
    repeats: int | None = None     # None: adaptive (stable median or budget spent)
    row_budget_s: float = 0.4
    network_budget_s: float = 3.0
    rel_tol: float = 0.02
    min_repeats: int = 20          # adaptive timing never stops before; fewer is marked unstable
    max_repeats: int = 1000
    threads: int | None = None     # torch.set_num_threads for the run (None: torch's default)
    tf32: bool | None = None       # CUDA: allow TF32 for convs and matmuls (None: torch's default)


@dataclass(frozen=True)
class Stats:
    """Summary of timed repeats, in milliseconds."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    q25_ms: float
    q75_ms: float
    repeats: int
    warmup: int
    unstable: str | None = None  # why the figure is not to be trusted, or None
    cpu_ms: float | None = None  # on the CPU, the median process CPU time of a timed repeat

    @property
    def iqr_ms(self) -> float:
        """Interquartile range."""
        return self.q75_ms - self.q25_ms


def summarize(samples_ms: list[float], warmup: int = 0) -> Stats:
    """Median, p10/p90 and quartiles of timed samples (inclusive quantiles)."""
    if not samples_ms:
        raise ValueError("no samples to summarize")
    if len(samples_ms) == 1:
        (only,) = samples_ms
        return Stats(only, only, only, only, only, 1, warmup)
    deciles = statistics.quantiles(samples_ms, n=10, method="inclusive")
    quartiles = statistics.quantiles(samples_ms, n=4, method="inclusive")
    return Stats(statistics.median(samples_ms), deciles[0], deciles[-1], quartiles[0],
                 quartiles[-1], len(samples_ms), warmup)


def adaptive_time(step: Callable[[], float], budget_s: float, options: TimingOptions,
                  clock: Callable[[], float] = time.perf_counter) -> Stats:
    """Run ``step`` (which returns one iteration's milliseconds) through warm-up and timed repeats.

    ``clock`` (seconds) only meters the budget, so tests can drive this with a fake timer.
    """
    timing = Sliced(step, budget_s, options, 1, clock)
    timing.run_slice()
    return timing.stats()


class Sliced:
    """Adaptive timing in ``slices`` parts, so that other timings can run between them (the rows'
    and the whole network's, round by round): a warm-up opens the first part (``warmup`` calls,
    or adaptive: at least 2 and about a tenth of the budget) and, when adaptive, every later one
    (at least 1 call and about a tenth of the part's budget: what ran between the parts has
    pushed this one's data out of the caches); each part takes its share of the budget and of
    the repeats; the median-is-stable stop applies to the samples of every part so far."""

    def __init__(self, step: Callable[[], float], budget_s: float, options: TimingOptions,
                 slices: int = 1, clock: Callable[[], float] = time.perf_counter) -> None:
        self.step, self.options, self.clock, self.slices = step, options, clock, slices
        self.budget_s = budget_s / slices
        self.samples: list[float] = []
        self.warmup = 0
        self.done = 0

    def _share(self, total: int | None) -> int | None:
        return None if total is None else -(-total * (self.done + 1) // self.slices)

    def _warm_up(self) -> None:
        first = self.done == 0
        if self.options.warmup is not None:  # fixed: before the first part only
            least, seconds = (self.options.warmup if first else 0), 0.0
        else:  # adaptive: a tenth of the whole budget before the first part, of its own later
            least, seconds = (2, 0.1 * self.budget_s * self.slices) if first else (
                1, 0.1 * self.budget_s)
        start, calls = self.clock(), 0
        while calls < least or (self.clock() - start < seconds and calls < 50):
            self.step()
            calls += 1
        self.warmup += calls

    def run_slice(self) -> None:
        """Run the next part (its warm-up first)."""
        options, clock, step = self.options, self.clock, self.step
        self._warm_up()
        repeats, least = self._share(options.repeats), self._share(options.min_repeats)
        most = self._share(options.max_repeats)
        samples, start = self.samples, clock()
        while True:
            if repeats is not None:
                if len(samples) >= repeats:
                    break
                samples.append(step())
                continue
            samples.append(step())
            n = len(samples)
            if n >= most or (n >= least and clock() - start >= self.budget_s):
                break
            if n >= least:
                before = statistics.median(samples[: n - n // 2])
                now = statistics.median(samples)
                if now > 0 and abs(now - before) / now < options.rel_tol:
                    break
        self.done += 1

    def stats(self) -> Stats:
        """The summary of every part's samples so far."""
        stats = summarize(self.samples, self.warmup)
        return dataclasses.replace(stats, unstable=instability(stats, self.options.min_repeats))


def instability(stats: Stats, min_repeats: int, busy: str | None = None) -> str | None:
    """Why a timing is not to be trusted, or None: fewer than ``min_repeats`` repeats, a p90/p10
    spread above SPREAD_LIMIT, or ``busy`` (a reason about the machine)."""
    reasons = []
    if stats.repeats < min_repeats:
        reasons.append(f"{stats.repeats} repeats, fewer than {min_repeats}")
    if stats.p10_ms > 0 and stats.p90_ms / stats.p10_ms > SPREAD_LIMIT:
        reasons.append(f"p90/p10 {stats.p90_ms / stats.p10_ms:.2f} > {SPREAD_LIMIT:g}")
    if busy:
        reasons.append(busy)
    return "; ".join(reasons) or None


def timer(fn: Callable[[], object], device, cpu_ms: list[float] | None = None
          ) -> Callable[[], float]:
    """A step that runs ``fn`` once and returns its milliseconds: CUDA events (synchronized) on a
    CUDA device, ``time.perf_counter`` on the CPU, where it also appends the process CPU time
    (``time.process_time``, every thread's) to ``cpu_ms`` if given: a busy machine stretches the
    wall-clock time, not the CPU time."""
    import torch

    if device.type == "cuda":
        def step() -> float:
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            fn()
            end.record()
            end.synchronize()
            return begin.elapsed_time(end)
    else:
        def step() -> float:
            begin, cpu = time.perf_counter(), time.process_time()
            fn()
            if cpu_ms is not None:
                cpu_ms.append((time.process_time() - cpu) * 1000)
            return (time.perf_counter() - begin) * 1000
    return step
