"""Spec parsing, validation and shape inference (no torch)."""

import dataclasses
import sys

import pytest

from conftest import DATA, fresh_check
from incprof.errors import SpecError
from incprof.spec.layers import Branches, Conv, Pool
from incprof.spec.registry import available, load_spec, resolve
from incprof.spec.shapes import depth, format_shape, place

# Table 1 of the GoogLeNet paper, output size column, as printed (H, W, C).
TABLE1_OUTPUT = {
    "conv1": (112, 112, 64), "pool1": (56, 56, 64), "conv2": (56, 56, 192), "pool2": (28, 28, 192),
    "inception_3a": (28, 28, 256), "inception_3b": (28, 28, 480), "pool3": (14, 14, 480),
    "inception_4a": (14, 14, 512), "inception_4b": (14, 14, 512), "inception_4c": (14, 14, 512),
    "inception_4d": (14, 14, 528), "inception_4e": (14, 14, 832), "pool4": (7, 7, 832),
    "inception_5a": (7, 7, 832), "inception_5b": (7, 7, 1024), "avgpool": (1, 1, 1024),
    "dropout": (1, 1, 1024), "linear": (1, 1, 1000), "softmax": (1, 1, 1000),
}


def test_googlenet_shapes_match_every_printed_output_size():
    spec = resolve("googlenet")
    rows = [p for p in place(spec) if not p.is_aux]
    assert [p.name for p in rows] == list(TABLE1_OUTPUT)
    for p in rows:
        c, h, w = p.out_shape
        assert (h, w, c) == TABLE1_OUTPUT[p.name], p.name


def test_googlenet_aux_heads_see_4x4_maps():
    spec = resolve("googlenet")
    heads = {p.name: p for p in place(spec) if p.is_aux}
    assert heads["aux1"].in_shape == (512, 14, 14) and heads["aux2"].in_shape == (528, 14, 14)
    # 5x5/3 average pool: floor((14 - 5) / 3) + 1 = 4
    pool = heads["aux1"].layers[0]
    assert isinstance(pool, Pool) and (14 - pool.kernel[0]) // pool.stride[0] + 1 == 4


def test_googlenet_depth_is_22():
    spec = resolve("googlenet")
    assert sum(depth(r.layers) for r in spec.rows) == 22 == spec.paper_depth


def test_filter_columns_expand_into_four_branches():
    row = resolve("googlenet").row("inception_3a")
    (module,) = row.layers
    assert isinstance(module, Branches)
    roles = [[getattr(layer, "role", None) for layer in b] for b in module.branches]
    assert roles == [["ch1x1"], ["ch3x3red", "ch3x3"], ["ch5x5red", "ch5x5"], ["pool", "pool_proj"]]
    assert [layer.out for layer in module.branches[1]] == [96, 128]
    assert module.branches[2][1].kernel == (5, 5) and module.branches[2][1].padding == (2, 2)


@pytest.mark.parametrize("n, k, s, p, ceil, expected", [
    (112, 3, 2, 0, True, 56),   # ceil((112 - 3) / 2) + 1 = 55 + 1
    (112, 3, 2, 0, False, 55),  # floor
    (14, 2, 2, 0, True, 7),
    (7, 7, 1, 0, False, 1),
    (5, 2, 2, 0, True, 3),      # ceil(3 / 2) + 1 = 3: the last window starts inside the input
    (5, 2, 2, 1, True, 3),      # ceil(5 / 2) + 1 = 4, but the 4th window would start at 6 >= 5 + 1
])
def test_pool_output_size_rule(n, k, s, p, ceil, expected):
    from incprof.spec.shapes import _window

    assert _window((k, k), (s, s), (p, p), ceil, (n, n), 0, "pool") == (expected, expected)


def test_pool_rule_agrees_with_torch():
    torch = pytest.importorskip("torch")
    for n in range(3, 20):
        for k, s, p in ((3, 2, 0), (3, 2, 1), (2, 2, 0), (3, 3, 1), (5, 3, 0)):
            if n + 2 * p < k:
                continue
            for ceil in (False, True):
                from incprof.spec.shapes import _window

                ours = _window((k, k), (s, s), (p, p), ceil, (n, n), 0, "pool")[0]
                theirs = torch.nn.MaxPool2d(k, s, p, ceil_mode=ceil)(torch.zeros(1, 1, n, n)).shape[-1]
                assert ours == theirs, (n, k, s, p, ceil)


def test_tiny_spec_loads():
    spec = load_spec(DATA / "tiny.yaml")
    assert [format_shape(p.out_shape) for p in place(spec)] == [
        "8x8x4", "4x4x4", "4x4x8", "1x1x8", "1x1x5", "1x1x3"]


def test_input_size_override_reshapes_everything():
    spec = resolve("googlenet")
    placed = place(spec, (320, 320))
    assert placed[0].out_shape == (64, 160, 160)
    assert placed[[p.name for p in placed].index("avgpool")].out_shape == (1024, 4, 4)


def test_registry_lists_tables():
    assert "googlenet" in available()


NO_TORCH = fresh_check(
    "spec: count_spec(resolve('googlenet'))",
    "import sys; from incprof.spec.registry import resolve; "
    "from incprof.count.analytic import count_spec; "
    "count_spec(resolve('googlenet')); assert 'torch' not in sys.modules, 'torch imported'",
    forbid=("torch",))


def test_spec_needs_no_torch(fresh):
    assert fresh[NO_TORCH] == {"imported": []}


# ---- bad specs: each problem gets one located error line
GOOD_ROW = """\
name: t
input: [3, 32, 32]
rows:
  - name: c1
    type: convolution
    layers:
      - conv: {out: 8, kernel: 3}
"""


@pytest.mark.parametrize("text, line, row, message", [
    (GOOD_ROW.replace("out: 8", "out: 0"), 7, "c1", "out must be >= 1, got 0"),
    (GOOD_ROW.replace("out: 8", "out: -3"), 7, "c1", "out must be >= 1, got -3"),
    (GOOD_ROW.replace("out: 8", "out: eight"), 7, "c1", "out must be an integer"),
    (GOOD_ROW.replace("out: 8", "out: 8, colour: red"), 7, "c1", "unknown key 'colour'"),
    (GOOD_ROW.replace("type: convolution", "type: convolution\n    widht: 3"), 6, "c1",
     "unknown key 'widht' in a row"),
    (GOOD_ROW.replace("conv:", "convolution:"), 7, "c1", "unknown layer type 'convolution'"),
    (GOOD_ROW.replace("kernel: 3", "kernel: 33, stride: 2"), 7, "c1", "shrinks to nothing"),
    (GOOD_ROW.replace("kernel: 3", "kernel: 2, padding: same"), 7, "c1", "needs an odd kernel"),
    (GOOD_ROW.replace("    type: convolution\n", ""), 4, "c1", "missing required key 'type'"),
    (GOOD_ROW.replace("[3, 32, 32]", "[3, 32]"), 2, None, "input must be"),
    (GOOD_ROW + "  - name: c1\n    type: x\n    layers: [{softmax: {}}]\n", 8, "c1",
     "duplicate name 'c1'"),
    (GOOD_ROW.replace("type: convolution", "type: convolution\n    output_size: 30x30x9"), 4,
     "c1", "printed output size 30x30x9 but the layers give 30x30x8"),
    (GOOD_ROW.replace("type: convolution", "type: convolution\n    depth: 2"), 4, "c1",
     "printed depth 2"),
    (GOOD_ROW.replace("type: convolution", "type: convolution\n    patch: 5x5/1"), 4, "c1",
     "matches no conv or pool"),
    (GOOD_ROW.replace("type: convolution", "type: convolution\n    params: lots"), 6, "c1",
     "params must be a number"),
    (GOOD_ROW + "aux:\n  - name: h\n    after: nowhere\n    layers: [{linear: {out: 2}}]\n", 9, "h",
     "aux head follows unknown row 'nowhere'"),
    (GOOD_ROW.replace("layers:\n      - conv: {out: 8, kernel: 3}", "ch3x3red: 4"), 4, "c1",
     "ch3x3red is given without ch3x3"),
    (GOOD_ROW.replace("- conv: {out: 8, kernel: 3}",
                      "- branches: [[{conv: {out: 2, kernel: 1}}], [{conv: {out: 2, kernel: 3}}]]"),
     7, "c1", "branches end at different sizes"),
    (GOOD_ROW.replace("- conv: {out: 8, kernel: 3}", "- conv: {out: 8, kernel: 3, groups: 2}"),
     7, "c1", "not divisible by groups"),
    (GOOD_ROW.replace("- conv: {out: 8, kernel: 3}", "- dropout: {p: 1.5}"), 7, "c1",
     "dropout p must be in [0, 1)"),
    ("- just\n- a list\n", 1, None, "top level must be a mapping"),
    # text limits: length, control characters (16.3, 16.4)
    (GOOD_ROW.replace("name: c1", "name: " + "x" * 201), 4, "x" * 201,
     "name is 201 characters long, over the limit of 200"),
    (GOOD_ROW.replace("type: convolution", "type: convolution\n    note: " + "y" * 4001), 6, "c1",
     "note is 4001 characters long, over the limit of 4000"),
    (GOOD_ROW.replace("name: c1", 'name: "c\\e[31m1"'), 4, "c\x1b[31m1",
     "name contains the control character U+001B"),
    (GOOD_ROW.replace("type: convolution", 'type: "a\\nb"'), 5, "c1", "control character U+000A"),
    (GOOD_ROW.replace("name: t\n", "name: t\ntitle: " + "z" * 201 + "\n"), 2, None,
     "title is 201 characters long"),
    (GOOD_ROW.replace("type: convolution", "type: convolution\n    patch: " + "3" * 201), 6, "c1",
     "patch is 201 characters long"),
    # YAML 1.1 scalars (16.8)
    (GOOD_ROW.replace("out: 8", "out: 010"), 7, "c1", "YAML 1.1 reads '010' as 8"),
    (GOOD_ROW.replace("kernel: 3", "kernel: 1:30"), 7, "c1", "YAML 1.1 reads '1:30' as 90"),
    (GOOD_ROW.replace("name: c1", "name: yes"), 4, "yes", "YAML 1.1 reads 'yes' as True"),
    (GOOD_ROW.replace("- conv: {out: 8, kernel: 3}", "- lrn: {size: 5, alpha: 1e-4}"), 7, "c1",
     "alpha: YAML 1.1 reads '1e-4' as text; write it with a decimal point, e.g. 1.0e-4"),
    # conv defaults are checked where they are written (16.5)
    (GOOD_ROW.replace("rows:", "defaults:\n  conv:\n    relu: true\n    bn_eps: -1\nrows:"), 6, None,
     "defaults.conv.bn_eps must be > 0, got -1"),
    (GOOD_ROW.replace("rows:", "defaults:\n  conv: {bn_eps: small}\nrows:"), 4, None,
     "defaults.conv.bn_eps must be a finite number"),
    (GOOD_ROW.replace("rows:", "defaults:\n  conv:\n    bias: 'yes'\nrows:"), 5, None,
     "defaults.conv.bias must be true or false"),
    (GOOD_ROW.replace("rows:", "defaults:\n  conv:\n    relu: 1\nrows:"), 5, None,
     "defaults.conv.relu must be true or false"),
    (GOOD_ROW.replace("rows:", "defaults:\n  conv:\n    padding: wide\nrows:"), 5, None,
     "padding must look like 3 or '1x7'"),
    (GOOD_ROW.replace("rows:", "defaults:\n  conv:\n    bias: off\nrows:"), 5, None,
     "YAML 1.1 reads 'off' as False"),
    # flat and spatial tensors do not mix inside branches (16.5)
    (GOOD_ROW.replace("- conv: {out: 8, kernel: 3}", "- branches: [[{linear: {out: 4}}, "
                      "{conv: {out: 2, kernel: 1}}], [{global_avgpool: {}}]]"), 7, "c1",
     "a conv layer follows a linear layer inside branches"),
    (GOOD_ROW.replace("- conv: {out: 8, kernel: 3}", "- branches: [[{global_avgpool: {}}, "
                      "{linear: {out: 4}}], [{global_avgpool: {}}]]"), 7, "c1",
     "branches end in different ranks (flat, spatial"),
    (GOOD_ROW.replace("- conv: {out: 8, kernel: 3}", "- linear: {out: 4}\n      - branches: "
                      "[[{dropout: {p: 0.5}}], [{maxpool: {kernel: 1}}]]"), 8, "c1",
     "a maxpool layer follows a linear layer inside branches"),
])
def test_bad_specs_get_located_errors(write_spec, text, line, row, message):
    path = write_spec(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    err = info.value
    assert message in str(err)
    assert (err.path, err.line, err.row) == (str(path), line, row)
    assert "\n" not in str(err)
    assert str(err).startswith(f"{path}:{line}: ")


def test_unknown_architecture_lists_valid_names():
    with pytest.raises(SpecError, match="built-in: .*googlenet"):
        resolve("googlenett")


def test_conv_dataclass_is_frozen():
    conv = Conv(out=1, kernel=(1, 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        conv.out = 2  # type: ignore[misc]


# ---- Inception-v3: the paper's Table 1 prints input sizes; each row's output is the next input.
V3_PAPER_INPUTS = ["299x299x3", "149x149x32", "147x147x32", "147x147x64", "73x73x64", "71x71x80",
                   "35x35x192", "35x35x288", "17x17x768", "8x8x1280", "8x8x2048", "1x1x2048",
                   "1x1x1000"]


def test_v3_group_ends_match_the_paper():
    spec = resolve("inception_v3")
    out = {p.name: format_shape(p.out_shape) for p in place(spec)}
    # stem rows that agree with the paper, then the ends of the 3x, 5x and 2x module groups
    assert [out[n] for n in ("conv_1a", "conv_2a", "conv_2b", "pool_1")] == V3_PAPER_INPUTS[1:5]
    assert out["mixed_6a"] == V3_PAPER_INPUTS[8] and out["mixed_7a"] == V3_PAPER_INPUTS[9]
    assert out["mixed_7c"] == V3_PAPER_INPUTS[10] and out["avgpool"] == V3_PAPER_INPUTS[11]
    assert out["linear"] == "1x1x1000" and out["aux"] == "1x1x1000"


def test_v3_stem_deviations_are_recorded_not_hidden():
    spec = resolve("inception_v3")
    deviated = [r.name for r in spec.rows if r.deviation]
    assert deviated == ["conv_3b", "conv_4a", "pool_2"]
    printed = [spec.row(n).printed.output_size for n in deviated]
    assert printed == V3_PAPER_INPUTS[5:8]


def test_deviation_must_be_real(write_spec):
    text = GOOD_ROW.replace("type: convolution",
                            "type: convolution\n    output_size: 30x30x8\n    deviation: none")
    with pytest.raises(SpecError, match="has a 'deviation' but its printed columns match"):
        load_spec(write_spec(text))
    text = GOOD_ROW.replace("type: convolution",
                            "type: convolution\n    output_size: 29x29x8\n    deviation: on purpose")
    assert load_spec(write_spec(text)).row("c1").deviation == "on purpose"


def test_tables_are_found_in_an_installed_layout(tmp_path):
    """A wheel puts tables/ at incprof/tables/ (pyproject.toml's package-dir); lookups find it."""
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "incprof", tmp_path / "incprof",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "tables", tmp_path / "incprof" / "tables")
    names = sorted(p.stem for p in (root / "tables").glob("*.yaml"))
    code = (f"import incprof.spec.registry as s; assert s.available() == {names!r}, "
            "s.available(); print(s.resolve('inception_v3').name)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(tmp_path)})
    assert out.stdout.strip() == "inception_v3"


def _nested(levels: int) -> str:
    """A layer with ``levels`` branches, each holding the next in its second branch."""
    layer = "{conv: {out: 2, kernel: 1}}"
    for _ in range(levels):
        layer = "{branches: [[{conv: {out: 2, kernel: 1}}], [" + layer + "]]}"
    return layer


def test_branches_nest_up_to_the_limit(write_spec):
    from incprof.spec.model import MAX_NESTING

    text = GOOD_ROW.replace("- conv: {out: 8, kernel: 3}", "- " + _nested(MAX_NESTING))
    spec = load_spec(write_spec(text))
    assert place(spec)[0].out_shape == (2 * (MAX_NESTING + 1), 32, 32)  # one 2-channel conv a level
    with pytest.raises(SpecError, match=f"residual blocks nest more than {MAX_NESTING} levels") as info:
        load_spec(write_spec(GOOD_ROW.replace("- conv: {out: 8, kernel: 3}", "- " + _nested(120))))
    assert (info.value.line, info.value.row) == (7, "c1")


def test_conv_defaults_apply_to_layers_and_filter_columns(write_spec):
    text = GOOD_ROW.replace("rows:", "defaults:\n  conv: {bn_eps: 0.001, bias: false, "
                            "padding: same}\nrows:") + "  - {name: m, type: x, ch1x1: 2, ch3x3: 4}\n"
    spec = load_spec(write_spec(text))
    conv = spec.row("c1").layers[0]
    assert (conv.bn_eps, conv.bias, conv.padding) == (0.001, False, (1, 1))
    module_convs = [b[0] for b in spec.row("m").layers[0].branches]
    assert [(c.bn_eps, c.bias) for c in module_convs] == [(0.001, False)] * 2


def test_text_that_is_not_utf8_names_its_row(monkeypatch, write_spec):
    """A lone surrogate (the pure-Python parser reads the escape; libyaml refuses it itself)."""
    import yaml

    from incprof.spec import yamlio

    monkeypatch.setattr(yamlio, "LOADER", yaml.SafeLoader)
    path = write_spec(GOOD_ROW.replace("type: convolution", 'type: "conv\\ud800"'))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(f"{path}:5: row 'c1': type cannot be encoded as UTF-8")
    monkeypatch.setattr(yamlio, "LOADER", yaml.CSafeLoader)
    with pytest.raises(SpecError, match="invalid Unicode character escape") as info:
        load_spec(path)
    assert info.value.line == 5
    path = write_spec(GOOD_ROW.replace("name: c1", 'name: "c\\ud800"'))
    for loader in (yaml.SafeLoader, yaml.CSafeLoader):
        monkeypatch.setattr(yamlio, "LOADER", loader)
        with pytest.raises(SpecError) as info:
            load_spec(path)
        str(info.value).encode("utf-8")  # the message itself prints anywhere


def test_a_bare_name_is_always_a_built_in(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "googlenet").mkdir()
    (tmp_path / "inception_v3").write_text("name: impostor\n")
    (tmp_path / "mine").write_text((DATA / "tiny.yaml").read_text())
    (tmp_path / "mine.yaml").write_text((DATA / "tiny.yaml").read_text())
    assert resolve("googlenet").name == "googlenet"
    assert resolve("inception_v3").name == "inception_v3"
    with pytest.raises(SpecError, match="unknown architecture 'mine'"):
        resolve("mine")
    assert resolve(Path("mine")).name == resolve("./mine").name == resolve("mine.yaml").name == "tiny"
    with pytest.raises(SpecError, match="googlenet: not a regular file \\(a directory\\)"):
        resolve(Path("googlenet"))


RESIDUAL_ROW = """\
name: t
input: [3, 32, 32]
rows:
  - name: c1
    type: convolution
    layers: [{conv: {out: 8, kernel: 3, padding: same}}]
  - name: block
    type: residual
    layers:
      - residual: BLOCK
"""


@pytest.mark.parametrize(("block", "message"), [
    ("{body: [{conv: {out: 16, kernel: 3, padding: same}}]}",
     "the residual body gives 32x32x16 but its input is 32x32x8"),
    ("{body: [{conv: {out: 8, kernel: 3}}], shortcut: [{conv: {out: 8, kernel: 1}}]}",
     "the residual body gives 30x30x8 but the shortcut's is 32x32x8"),
    ("{body: [{conv: {out: 8, kernel: 1}}], scale: .nan}", "scale must be a finite number"),
    ("{body: [{conv: {out: 8, kernel: 1}}], scale: .inf}", "scale must be a finite number"),
    ("{body: [{conv: {out: 8, kernel: 1}}], scale: 0}", "scale must not be 0"),
    ("{body: [{conv: {out: 8, kernel: 1}}], scale: '0.1'}", "scale must be a finite number"),
    ("{body: []}", "residual body must be a non-empty list"),
    ("{shortcut: [{conv: {out: 8, kernel: 1}}]}", "residual layer is missing required key 'body'"),
    ("{body: [{separable: {out: 8, kernel: 3, padding: same, multiplier: 0}}]}",
     "multiplier must be >= 1"),
    ("{body: [{separable: {out: 8, kernel: 3, padding: same, multiplier: 1.5}}]}",
     "multiplier must be an integer"),
    ("{body: [{separable: {out: 8, kernel: 3, groups: 2}}]}", "unknown key 'groups'"),
])
def test_bad_residual_and_separable_layers_name_file_line_and_row(write_spec, block, message):
    path = write_spec(RESIDUAL_ROW.replace("BLOCK", block))
    with pytest.raises(SpecError, match=message) as info:
        load_spec(path)
    assert info.value.path == str(path) and info.value.line >= 8 and info.value.row == "block"


def test_bad_residual_is_one_line_and_exit_2_from_the_cli(write_spec):
    from typer.testing import CliRunner

    from incprof.cli.app import app

    path = write_spec(RESIDUAL_ROW.replace("BLOCK", "{body: [{conv: {out: 16, kernel: 1}}]}"))
    result = CliRunner().invoke(app, ["table", "--spec", str(path), "--no-verify"])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}:") and "row 'block'" in line and "cannot be added" in line


def test_a_residual_body_cannot_end_flat(write_spec):
    text = RESIDUAL_ROW.replace("layers: [{conv: {out: 8, kernel: 3, padding: same}}]",
                                "layers: [{conv: {out: 8, kernel: 3}}, {global_avgpool: {}}]")
    with pytest.raises(SpecError, match="residual body or shortcut ends in a linear layer"):
        load_spec(write_spec(text.replace("BLOCK", "{body: [{linear: {out: 8}}]}")))


FLAVOURED = """name: t
input: [3, 8, 8]
rows:
  - name: c
    type: conv
    layers:
      - conv: {{out: 4, kernel: 1}}
flavors:
  x:
    note: a flavour
    conv:
      bias: true
      bn_eps: {eps}
{extra}"""


@pytest.mark.parametrize("eps, extra, line, says", [
    ("-1", "", 13, "bn_eps must be > 0, got -1"),
    ("{}", "", 13, "bn_eps must be a finite number, got a mapping {}"),
    ("0.001", "    roles:\n      r:\n        kernel: 0\n", 16, "kernel must be >= 1, got 0"),
    ("0.001", "    drop:\n      - lrn\n      - conv\n", 16, "drop: 'conv' is not a layer kind"),
    ("0.001", "    replace:\n      nope: []\n", 15, "replaces unknown row 'nope'"),
])
def test_a_flavour_error_names_the_line_of_the_key_at_fault(write_spec, eps, extra, line, says):
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(FLAVOURED.format(eps=eps, extra=extra)))
    assert info.value.line == line and says in str(info.value)
    assert "LineDict" not in str(info.value) and "LineList" not in str(info.value)


def test_an_error_echoes_user_input_at_a_bounded_length(write_spec):
    """A drop list of 20,000 kinds and a 100,000-character kind: one short line."""
    drop = "[" + ", ".join(["lrn"] * 20_000 + ["x" * 100_000]) + "]"
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(FLAVOURED.format(eps="0.001", extra=f"    drop: {drop}\n")))
    assert len(str(info.value)) < 300 and "is not a layer kind" in str(info.value)
