"""Safe YAML loading: line numbers, refused tags, duplicate keys, alias bombs, bad bytes."""

import pytest

from conftest import DATA
from incprof.errors import SpecError
from incprof.spec.ceilings import Ceilings, using
from incprof.spec.yamlio import load_yaml


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
    with pytest.raises(SpecError, match="more than 200000 nodes"):  # the default ceiling
        load_yaml("bomb.yaml", "\n".join(lines) + "\n")
    with using(Ceilings(max_nodes=10)), pytest.raises(SpecError, match="more than 10 nodes"):
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


# ---- YAML 1.1's surprising scalars are refused, naming the line (and the row under rows:)
@pytest.mark.parametrize("scalar, read_as", [
    ("010", "8"), ("1:30", "90"), ("0x10", "16"), ("0b11", "3"), ("1_000", "1000"),
    ("-010", "-8"), ("1:30.5", "90.5"), ("1_0.5", "10.5"),
    ("yes", "True"), ("no", "False"), ("on", "True"), ("Off", "False"),
])
def test_yaml_1_1_scalars_are_refused(scalar, read_as):
    text = f"rows:\n  - name: c1\n    layers: [{{conv: {{out: {scalar}, kernel: 3}}}}]\n"
    with pytest.raises(SpecError) as info:
        load_yaml("x.yaml", text)
    err = info.value
    assert (err.line, err.row) == (3, "c1")
    assert f"YAML 1.1 reads '{scalar}' as {read_as}" in str(err)


@pytest.mark.parametrize("scalar, value", [
    ("10", 10), ("0", 0), ("-3", -3), ("+4", 4), ("0.75", 0.75), ("1.0e-3", 0.001), (".5", 0.5),
    ("true", True), ("false", False), ('"010"', "010"), ("'yes'", "yes"), ("1e-4", "1e-4"),
])
def test_plain_scalars_still_load(scalar, value):
    assert load_yaml("x.yaml", f"a: {scalar}\n")["a"] == value


# ---- only a regular file of bounded size is read
def test_a_spec_must_be_a_regular_file(tmp_path):
    import os

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # no writer: opening it to read would block
    for path, kind in ((fifo, "a FIFO"), (tmp_path, "a directory"),
                       ("/dev/zero", "a character device"), ("/dev/urandom", "a character device")):
        with pytest.raises(SpecError, match=f"not a regular file \\({kind}\\)"):
            load_yaml(path)


def test_files_over_max_bytes_are_refused_before_reading(tmp_path):
    text = "".join(f"k{i:02}: {i}\n" for i in range(20))
    path = tmp_path / "big.yaml"
    path.write_text(text)
    size = len(text.encode())
    with using(Ceilings(max_bytes=size - 1)):
        with pytest.raises(SpecError, match=f"has {size} bytes, over the limit of {size - 1} "
                                            "\\(--max-bytes\\)"):
            load_yaml(path)
        with pytest.raises(SpecError, match=f"larger than {size - 1} bytes"):
            load_yaml("x.yaml", text)
    with using(Ceilings(max_bytes=size)):
        assert load_yaml(path)["k19"] == 19


# ---- libyaml and the pure-Python parser read the same data and give the same errors
def _same(a, b) -> bool:
    """Equal values, and equal line maps on every mapping and list."""
    if isinstance(a, dict):
        return (a.line == b.line and a.key_lines == b.key_lines and list(a) == list(b)
                and all(_same(a[k], b[k]) for k in a))
    if isinstance(a, list):
        return (a.line == b.line and a.item_lines == b.item_lines and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    return type(a) is type(b) and a == b


def _both_loaders(monkeypatch, load):
    import yaml

    from incprof.spec import yamlio

    out = []
    for loader in (yaml.CSafeLoader, yaml.SafeLoader):
        monkeypatch.setattr(yamlio, "LOADER", loader)
        try:
            out.append(load())
        except SpecError as exc:
            out.append((exc.line, exc.row, exc.message))
    return out


def test_libyaml_is_used_where_available():
    import yaml

    from incprof.spec import yamlio

    assert yaml.__with_libyaml__ and yamlio.LOADER is yaml.CSafeLoader


@pytest.mark.parametrize("table", sorted((DATA.parent.parent / "tables").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_both_loaders_read_the_tables_alike(monkeypatch, table):
    c, python = _both_loaders(monkeypatch, lambda: load_yaml(table))
    assert _same(c, python)


@pytest.mark.parametrize("text", [
    "a: 1\nb: 2\na: 3\n", "a: !!python/name:os.system\n", "rows:\n  - {name: x, out: 010}\n",
    "a: yes\n", "base: &b {a: 1}\nother:\n  <<: *b\n", "a: [1, 2\nb: 3\n",
])
def test_both_loaders_give_the_same_errors(monkeypatch, text):
    c, python = _both_loaders(monkeypatch, lambda: load_yaml("x.yaml", text))
    assert isinstance(c, tuple) and c[:2] == python[:2]
    if not c[2].startswith("invalid YAML"):  # the parsers word syntax errors apart
        assert c == python


@pytest.mark.parametrize("text, value", [("1.0e308", 1.0e308), ("-2.5e3", -2500.0),
                                         ("1.e2", 100.0), (".5E1", 5.0), ("1.0e+308", 1.0e308)])
def test_a_decimal_with_an_unsigned_exponent_is_the_float_it_is(text, value):
    """YAML 1.1 reads 1.0e308 as text (no sign after the e); YAML 1.2, and a reader, as 1e308."""
    assert load_yaml("x.yaml", f"a: {text}\n")["a"] == value


def test_a_float_past_the_largest_is_refused_with_the_reason():
    with pytest.raises(SpecError) as info:
        load_yaml("x.yaml", "a: 1\nb: 1.0e999\n")
    assert info.value.line == 2 and "beyond the largest 64-bit float" in str(info.value)
    assert load_yaml("x.yaml", "a: '1.0e308'\n")["a"] == "1.0e308"  # quoted: text, as written
