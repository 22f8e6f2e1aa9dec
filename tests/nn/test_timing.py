"""The timing in parts (Sliced): every figure's repeats spread over rounds, between the others'."""

from incprof.nn.timing import Sliced, TimingOptions


def test_fixed_repeats_are_shared_between_the_parts_and_warm_up_comes_once():
    calls = []
    timing = Sliced(lambda: calls.append(1) or 1.0, 1.0, TimingOptions(warmup=2, repeats=6), 3)
    counts = []
    for _ in range(3):
        timing.run_slice()
        counts.append((len(calls), len(timing.samples)))
    assert counts == [(4, 2), (6, 4), (8, 6)]  # 2 warm-up calls, then 2 repeats a part
    assert timing.stats().repeats == 6 and timing.stats().warmup == 2


def test_adaptive_parts_each_take_their_share_of_the_minimum():
    clock = iter(range(10**6))
    timing = Sliced(lambda: 1.0, 3.0, TimingOptions(warmup=1, min_repeats=20), 4,
                    clock=lambda: next(clock))
    timing.run_slice()
    assert len(timing.samples) == 5  # a quarter of 20; the fake clock is past the part's budget
    for _ in range(3):
        timing.run_slice()
    assert len(timing.samples) == 20 and timing.stats().unstable is None


def test_an_adaptive_warm_up_opens_every_part_a_tenth_of_its_budget():
    now, calls = [0.0], []

    def step():  # each call takes 10 ms on a fake clock
        calls.append(1)
        now[0] += 0.010
        return 10.0

    options = TimingOptions(repeats=4)  # adaptive warm-up, fixed repeats
    timing = Sliced(step, 2.0, options, 4, clock=lambda: now[0])
    timing.run_slice()
    assert (len(calls), timing.warmup) == (20 + 1, 20)  # a tenth of 2 s: 200 ms of 10 ms calls
    timing.run_slice()
    assert (len(calls), timing.warmup) == (21 + 5 + 1, 25)  # a tenth of the part's 0.5 s
    assert len(timing.samples) == 2


class BlockStep:
    """A step whose calls take ``call_ms`` each on a fake clock; it records the calls of every
    repeat and, as timer does, one CPU time per repeat (per call: ``cpu_per_call_ms``)."""

    def __init__(self, call_ms: float, cpu_per_call_ms: float = 0.0):
        self.now, self.call_ms, self.blocks, self.cpu_ms = 0.0, call_ms, [], []
        self.cpu_per_call_ms = cpu_per_call_ms

    def __call__(self, calls: int = 1) -> float:
        self.blocks.append(calls)
        self.now += calls * self.call_ms / 1000
        self.cpu_ms.append(self.cpu_per_call_ms)
        return self.call_ms


def test_a_short_call_is_timed_in_blocks_that_fill_block_s():
    step = BlockStep(0.004)  # 4 us a call: 1 ms holds 250 of them
    timing = Sliced(step, 1.0, TimingOptions(warmup=3), clock=lambda: step.now, block_s=1e-3)
    timing.run_slice()
    assert step.blocks[:3] == [1, 1, 1]  # the warm-up: one call a repeat
    assert set(step.blocks[3:]) == {250} and timing.stats().calls_per_repeat == 250
    assert timing.stats().median_ms == 0.004  # a call's time, not the block's


def test_blocks_are_capped_and_long_calls_fixed_repeats_or_no_block_s_run_alone():
    tiny = BlockStep(1e-6)
    capped = Sliced(tiny, 1.0, TimingOptions(warmup=1), clock=lambda: tiny.now, block_s=1e-3)
    capped.run_slice()
    assert capped.block == 1000  # MAX_BLOCK, not a million calls
    for call_ms, options, block_s in ((2.0, TimingOptions(warmup=1), 1e-3),
                                      (0.004, TimingOptions(warmup=1, repeats=5), 1e-3),
                                      (0.004, TimingOptions(warmup=1), 0.0)):
        step = BlockStep(call_ms)
        timing = Sliced(step, 1.0, options, clock=lambda: step.now, block_s=block_s)
        timing.run_slice()
        assert set(step.blocks) == {1} and timing.stats().calls_per_repeat == 1


def test_a_warm_up_of_fewer_than_two_calls_is_made_up_to_two_before_the_block_is_sized():
    # a process's first call of a kernel can take far longer than the rest: 5 ms, then 10 us
    for warmup in (0, 1):
        step = BlockStep(0.01)
        first = [True]

        def slow_first(calls: int = 1) -> float:
            took = step(calls)
            if first[0]:
                first[0] = False
                return 5.0
            return took

        timing = Sliced(slow_first, 1.0, TimingOptions(warmup=warmup), clock=lambda: step.now,
                        block_s=1e-3)
        timing.run_slice()
        assert step.blocks[:2] == [1, 1] and set(step.blocks[2:]) == {100}
        assert timing.stats().warmup == 2 and timing.stats().calls_per_repeat == 100


def test_the_cpu_time_is_the_timed_repeats_median_never_the_warm_ups():
    # four parts, each 50 warm-up calls (the cap; a tenth of a part's budget holds 100 of these
    # 1 ms calls) then 2 repeats: the warm-ups record 9 ms of CPU time, the repeats 5 ms
    step, cpu = BlockStep(1.0), []

    def recording(calls: int = 1) -> float:
        cpu.append(9.0 if len(step.blocks) % 52 < 50 else 5.0)
        return step(calls)

    timing = Sliced(recording, 4.0, TimingOptions(repeats=8), 4, clock=lambda: step.now,
                    cpu_ms=cpu)
    for _ in range(4):
        timing.run_slice()
    assert (timing.warmup, cpu.count(9.0), cpu.count(5.0)) == (200, 200, 8)
    assert timing.stats().cpu_ms == 5.0  # the last 8 CPU times recorded would be mostly 9 ms


def test_the_cpu_timer_runs_a_block_of_calls_and_records_one_cpu_time_per_block():
    import torch

    from incprof.nn.timing import timer

    calls, cpu = [], []
    step = timer(lambda: calls.append(1), torch.device("cpu"), cpu)
    took = step(7)
    assert len(calls) == 7 and len(cpu) == 1 and took >= 0 and cpu[0] >= 0
    step()
    assert len(calls) == 8 and len(cpu) == 2


def test_only_the_cpu_times_short_calls_in_blocks():
    from types import SimpleNamespace

    from incprof.nn.timing import BLOCK_S, block_for

    assert block_for(SimpleNamespace(type="cpu")) == BLOCK_S == 1e-3
    assert block_for(SimpleNamespace(type="cuda")) == 0.0  # CUDA events carry no clock cost
