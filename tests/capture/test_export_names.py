"""Exported names the spec reader accepts (incprof.capture.export_names), the originals kept:
checked over generated names, and round-tripped through export and the reader on hostile ones."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incprof.capture.export_names import legal_name, original_comment, read_original
from incprof.spec.fields import NAME_CHARS, text_problem

# Any text, surrogates, controls and separators included, up to past the name limit.
NAMES = st.text(st.characters(codec=None, exclude_categories=()), max_size=NAME_CHARS + 60)


@settings(max_examples=300, deadline=None)
@given(st.lists(NAMES, max_size=12))
def test_every_name_maps_to_a_distinct_legal_name_and_its_original_is_kept(originals):
    taken: set[str] = set()
    names = [legal_name(original, taken) for original in originals]
    for original, name in zip(originals, names):
        assert text_problem(name) is None and name.strip()
        assert read_original(original_comment(original)) == original
        assert "\n" not in original_comment(original)
    distinct = {o: n for o, n in zip(originals, names)}
    assert len(set(names)) == len(names)  # even where two originals map to the same text
    assert len(set(distinct.values())) == len(distinct)


def test_a_legal_name_is_kept_as_written():
    taken: set[str] = set()
    assert legal_name("inception_3a+conv", taken) == "inception_3a+conv"
    assert legal_name("bell\x07", taken) == "bell_" and legal_name("bell\x1b", taken) != "bell_"
    long = legal_name("n" * 300, taken)
    assert len(long) == NAME_CHARS and long.startswith("n" * 150)


def test_hostile_module_names_round_trip_through_export(tmp_path):
    """Module names with escapes, a bell, a bidi override, C1, a line break, a lone surrogate, a
    300-character name and two names that map alike: the exported YAML reads back, its row names
    are distinct, and each changed row's comment holds its module's name as written."""
    pytest.importorskip("torch")
    from torch import nn

    from incprof.capture.export import export_spec, to_yaml
    from incprof.spec.registry import load_spec

    model = nn.Sequential()
    model.add_module("conv", nn.Conv2d(3, 4, 1))
    originals = ["\x1b]0;pwned\x07title", "\u202eevil", "c1\x9b2J", "line\nbreak", "a\x07", "a\x1b",
                 "x" * 300, "\ud800lone"]
    for name in originals:
        model.add_module(name, nn.ReLU())
    path = tmp_path / "exported.yaml"
    path.write_text(to_yaml(export_spec(model, 4)), encoding="utf-8")
    spec = load_spec(path)  # raises on any name the reader refuses
    assert len(spec.rows) == len(originals)  # the conv and the first ReLU make one row
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [read_original(line) for line in lines if line.strip().startswith("# was: ")]
    assert kept == ["conv+" + originals[0], *originals[1:]]  # the conv's ReLU joins its row
    assert len({row.name for row in spec.rows}) == len(spec.rows)
    assert all(json.dumps(line, ensure_ascii=True) for line in lines)
