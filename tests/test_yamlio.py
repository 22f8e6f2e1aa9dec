"""Safe YAML loading: line numbers, refused tags, duplicate keys, alias bombs, bad bytes."""

import pytest

from incprof.errors import SpecError
from incprof.yamlio import MAX_NODES, load_yaml


def test_plain_data_with_lines():
    data = load_yaml("x.yaml", "a: 1\nb:\n  - {c: 2.5}\n  - null\n")
    assert data == {"a": 1, "b": [{"c": 2.5}, None]}
    assert data.key_lines == {"a": 1, "b": 2}
    assert data["b"].item_lines == [3, 4]


@pytest.mark.parametrize("text", [
    "a: !!python/object/apply:os.system ['echo hi']\n",
    "a: !!python/name:os.system\n",
    "!!python/object:collections.OrderedDict {}\n",
    "a: !custom 3\n",
])
def test_non_plain_tags_are_refused(text):
    with pytest.raises(SpecError, match="tag .* is not allowed"):
        load_yaml("x.yaml", text)


def test_duplicate_key_names_its_line():
    with pytest.raises(SpecError) as info:
        load_yaml("x.yaml", "a: 1\nb: 2\na: 3\n")
    assert info.value.line == 3 and "duplicate key 'a'" in str(info.value)


def test_billion_laughs_is_bounded():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(SpecError, match=f"more than {MAX_NODES} nodes"):
        load_yaml("bomb.yaml", "\n".join(lines) + "\n")


def test_non_utf8_bytes():
    with pytest.raises(SpecError, match="not UTF-8"):
        load_yaml("x.yaml", b"name: \xff\xfe\n")


def test_syntax_error_has_line():
    with pytest.raises(SpecError) as info:
        load_yaml("x.yaml", "a: 1\nb: [1, 2\nc: 3\n")
    assert info.value.line is not None and "invalid YAML" in str(info.value)


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(SpecError):
        load_yaml("x.yaml", "[" * 5000 + "]" * 5000)


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(SpecError, match="empty"):
        load_yaml("x.yaml", "")
    with pytest.raises(SpecError, match="cannot read"):
        load_yaml(tmp_path / "nope.yaml")


def test_merge_keys_are_refused():
    with pytest.raises(SpecError, match="merge keys"):
        load_yaml("x.yaml", "base: &b {a: 1}\nother:\n  <<: *b\n")
