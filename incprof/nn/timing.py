"""Timing that can be argued with: the options, the adaptive stopping rule (in parts, so that other
timings can run between them), the summary statistics and the instability verdict, and the clock
(CUDA events or wall-clock and CPU time)."""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable

# A timing whose p90 is more than this many times its p10 is marked unstable.
SPREAD_LIMIT = 1.5
# Where blocks are asked for (the CPU's rows and calibration), a timed repeat of a call shorter than
# BLOCK_S runs it as many times as fill BLOCK_S (at most MAX_BLOCK), and its time is the block's
# over its calls: the clock's own cost (reading the process CPU time takes about 0.6 us on this
# project's machine, a tenth of a 5 us row) and one call's jitter are shared by the whole block.
BLOCK_S, MAX_BLOCK = 1e-3, 1000


def block_for(device) -> float:
    """The block a call on ``device`` is timed in: BLOCK_S on the CPU; none on CUDA, whose events
    time a call without the clock's cost."""
    return BLOCK_S if device.type == "cpu" else 0.0


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
    calls_per_repeat: int = 1  # the calls a timed repeat ran (a block, see BLOCK_S); times per call

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


def adaptive_time(step: Callable[..., float], budget_s: float, options: TimingOptions,
                  clock: Callable[[], float] = time.perf_counter, cpu_ms: list[float] | None = None,
                  block_s: float = 0.0) -> Stats:
    """Run ``step`` (which returns one iteration's milliseconds) through warm-up and timed repeats
    (see Sliced for ``cpu_ms`` and ``block_s``).

    ``clock`` (seconds) only meters the budget, so tests can drive this with a fake timer.
    """
    timing = Sliced(step, budget_s, options, 1, clock, cpu_ms=cpu_ms, block_s=block_s)
    timing.run_slice()
    return timing.stats()


class Sliced:
    """Adaptive timing in ``slices`` parts, so that other timings can run between them (the rows'
    and the whole network's, round by round): a warm-up opens the first part (``warmup`` calls,
    or adaptive: at least 2 and about a tenth of the budget) and, when adaptive, every later one
    (at least 1 call and about a tenth of the part's budget: what ran between the parts has
    pushed this one's data out of the caches); each part takes its share of the budget and of
    the repeats; the median-is-stable stop applies to the samples of every part so far.

    With ``block_s`` and no fixed repeats, a call the warm-up found shorter than ``block_s`` is
    timed in blocks (see BLOCK_S): ``step(calls)`` runs it ``calls`` times and returns the time
    of one. ``cpu_ms``, where given, is the list the step appends each repeat's CPU time to
    (``timer``); the timed repeats' own are kept apart from the warm-up's."""

    def __init__(self, step: Callable[..., float], budget_s: float, options: TimingOptions,
                 slices: int = 1, clock: Callable[[], float] = time.perf_counter, *,
                 cpu_ms: list[float] | None = None, block_s: float = 0.0) -> None:
        self.step, self.options, self.clock, self.slices = step, options, clock, slices
        self.budget_s = budget_s / slices
        self.cpu_ms, self.block_s = cpu_ms, block_s
        self.samples: list[float] = []
        self.cpu_samples: list[float] = []
        self.warmup = 0
        self.block = 1
        self.done = 0

    def _share(self, total: int | None) -> int | None:
        return None if total is None else -(-total * (self.done + 1) // self.slices)

    def _warm_up(self) -> list[float]:
        """The warm-up's calls; their milliseconds."""
        first = self.done == 0
        if self.options.warmup is not None:  # fixed: before the first part only
            least, seconds = (self.options.warmup if first else 0), 0.0
        else:  # adaptive: a tenth of the whole budget before the first part, of its own later
            least, seconds = (2, 0.1 * self.budget_s * self.slices) if first else (
                1, 0.1 * self.budget_s)
        start, took = self.clock(), []
        while len(took) < least or (self.clock() - start < seconds and len(took) < 50):
            took.append(self.step())
        self.warmup += len(took)
        return took

    def _size_block(self, warm_ms: list[float]) -> None:
        """Calls per timed repeat: enough to fill ``block_s`` at the warm-up's fastest call. Where
        the warm-up ran fewer than two calls, calls to make up two, counted as warm-up: a
        process's first call of a kernel (the library picking it, cold caches) can take many
        times the rest."""
        warm_ms = list(warm_ms)
        while len(warm_ms) < 2:
            warm_ms.append(self.step())
            self.warmup += 1
        fastest_ms = min(warm_ms)
        if 0 < fastest_ms < self.block_s * 1000:
            self.block = min(MAX_BLOCK, math.ceil(self.block_s * 1000 / fastest_ms))

    def _repeat(self) -> float:
        return self.step() if self.block == 1 else self.step(self.block)

    def run_slice(self) -> None:
        """Run the next part (its warm-up first)."""
        options, clock = self.options, self.clock
        warm_ms = self._warm_up()
        if self.done == 0 and self.block_s and options.repeats is None:
            self._size_block(warm_ms)
        repeats, least = self._share(options.repeats), self._share(options.min_repeats)
        most = self._share(options.max_repeats)
        samples, start = self.samples, clock()
        mark = len(self.cpu_ms) if self.cpu_ms is not None else 0
        while True:
            if repeats is not None:
                if len(samples) >= repeats:
                    break
                samples.append(self._repeat())
                continue
            samples.append(self._repeat())
            n = len(samples)
            if n >= most or (n >= least and clock() - start >= self.budget_s):
                break
            if n >= least:
                before = statistics.median(samples[: n - n // 2])
                now = statistics.median(samples)
                if now > 0 and abs(now - before) / now < options.rel_tol:
                    break
        if self.cpu_ms is not None:
            self.cpu_samples += self.cpu_ms[mark:]
        self.done += 1

    def stats(self) -> Stats:
        """The summary of every part's samples so far, with the median CPU time of the timed
        repeats where the step recorded any."""
        stats = summarize(self.samples, self.warmup)
        return dataclasses.replace(
            stats, unstable=instability(stats, self.options.min_repeats),
            cpu_ms=statistics.median(self.cpu_samples) if self.cpu_samples else None,
            calls_per_repeat=self.block)


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
          ) -> Callable[..., float]:
    """A step that runs ``fn`` ``calls`` times (once by default) and returns the milliseconds of
    one call: CUDA events (synchronized) on a CUDA device, ``time.perf_counter`` on the CPU, where
    it also appends the process CPU time of one call (``time.process_time``, every thread's) to
    ``cpu_ms`` if given: a busy machine stretches the wall-clock time, not the CPU time."""
    import torch

    if device.type == "cuda":
        def step(calls: int = 1) -> float:
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            for _ in range(calls):
                fn()
            end.record()
            end.synchronize()
            return begin.elapsed_time(end) / calls
    else:
        def step(calls: int = 1) -> float:
            begin, cpu = time.perf_counter(), time.process_time()
            for _ in range(calls):
                fn()
            if cpu_ms is not None:
                cpu_ms.append((time.process_time() - cpu) * 1000 / calls)
            return (time.perf_counter() - begin) * 1000 / calls
    return step
