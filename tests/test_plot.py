"""Figures are written, are the format asked for, and are byte-for-byte reproducible."""

import pytest

from incprof.compare import compare_modules, resolve_side
from incprof.errors import UsageError
from incprof.plot import NothingToPlot, module_macs_bars


@pytest.fixture(scope="module")
def modules():
    return compare_modules(resolve_side("naive"), resolve_side("reduced"),
                           labels=("naive", "reduced"))


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_module_plot_is_reproducible(tmp_path, modules, suffix, magic):
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    module_macs_bars(modules, first)
    module_macs_bars(modules, second)
    assert first.read_bytes().startswith(magic)
    assert first.read_bytes() == second.read_bytes()


def test_svg_names_axes_and_units(tmp_path, modules):
    path = tmp_path / "m.svg"
    module_macs_bars(modules, path)
    text = path.read_text()
    assert "MACs (millions, batch 1)" in text and "naive vs reduced" in text


def test_unknown_plot_format(tmp_path, modules):
    with pytest.raises(UsageError, match=".png or .svg"):
        module_macs_bars(modules, tmp_path / "m.jpg")


def test_nothing_to_plot_is_a_clear_error(tmp_path):
    same = compare_modules(resolve_side("reduced"), resolve_side("reduced"))
    with pytest.raises(NothingToPlot, match="no rows in common"):
        module_macs_bars(same, tmp_path / "m.svg")
    assert not (tmp_path / "m.svg").exists()
