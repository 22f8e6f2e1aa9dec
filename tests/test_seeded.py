"""incprof.seeded: a block drawn from torch's CPU generator seeded, the caller's state restored,
no CUDA generator touched."""

import pytest

torch = pytest.importorskip("torch")

from incprof.seeded import seeded  # noqa: E402


def test_a_seeded_block_draws_the_same_values_and_restores_the_callers_state(monkeypatch):
    # torch.manual_seed would reseed every CUDA generator too, which fork_rng(devices=[]) never
    # restores: refused here
    monkeypatch.setattr(torch, "manual_seed", lambda seed: pytest.fail("reseeds CUDA too"))
    torch.default_generator.manual_seed(7)
    state = torch.get_rng_state()
    with seeded():
        first = torch.randn(5)
    assert torch.equal(torch.get_rng_state(), state)
    with seeded():
        again = torch.randn(5)
    expected = torch.randn(5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(first, expected) and torch.equal(again, expected)
