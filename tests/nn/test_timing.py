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
