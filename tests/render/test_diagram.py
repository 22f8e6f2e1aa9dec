"""Module diagrams: what they show, reproducible bytes, and the draw command."""

import hashlib

import pytest

from conftest import fresh_check, invoke
from incprof.analysis.blocks import row_blocks
from incprof.render.diagram import compact_text, counts_text, draw_module, share
from incprof.spec.registry import resolve

MODELS = "tests/data/user_models.py"


def _block(arch, row):
    return {name: block for name, _, block in row_blocks(resolve(arch))}[row]


def test_the_svg_labels_each_layer_branch_and_the_merge(tmp_path):
    path = tmp_path / "3a.svg"
    draw_module("inception_3a", _block("googlenet", "inception_3a"), path)
    text = path.read_text()
    # 1x1 conv 192 -> 64 on 28x28: 12,352 params and 9,633,792 MACs (192 * 64 * 28 * 28)
    for label in ("1x1 conv, 64", "3x3 conv, 128", "5x5 conv, 32", "3x3 max pool",
                  "12.4K params, 9.63M MACs", "concatenate channels: 28x28x256",
                  "input 28x28x192", "output 28x28x256"):
        assert f"<!-- {label} -->" in text, label


def test_helpers_state_counts_and_shares():
    assert counts_text(12352, 9633792) == "12.4K params, 9.63M MACs"
    assert counts_text(0, 0) == "no params, no MACs"
    assert (share(1, 3), share(1, 1000), share(0, 5), share(5, 0)) == ("33%", "<1%", "0%", "0%")
    assert compact_text(_block("googlenet", "inception_3a")) == (
        "[1x1 conv, 64 | 1x1 conv, 96 > 3x3 conv, 128 | 1x1 conv, 16 > 5x5 conv, 32 | "
        "3x3 max pool > 1x1 conv, 32] concatenated")
    assert compact_text(_block("inception_resnet_v2", "block8_10")).startswith("sum of [[")


DIAGRAM = fresh_check(
    "render: inception_3a diagram",
    "import hashlib; from pathlib import Path\n"
    "from incprof.analysis.blocks import row_blocks\n"
    "from incprof.render.diagram import draw_module\n"
    "from incprof.spec.registry import resolve\n"
    "block = {n: b for n, _, b in row_blocks(resolve('googlenet'))}['inception_3a']\n"
    "value = {}\n"
    "for suffix in ('.png', '.svg'):\n"
    "    draw_module('inception_3a', block, Path(folder) / f'd{suffix}')\n"
    "    value[suffix] = hashlib.sha256((Path(folder) / f'd{suffix}').read_bytes()).hexdigest()")


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_a_diagram_is_reproducible(tmp_path, suffix, magic, fresh):
    """Another process (another hash seed, other addresses) writes the same bytes."""
    path = tmp_path / f"d{suffix}"
    draw_module("inception_3a", _block("googlenet", "inception_3a"), path)
    assert path.read_bytes().startswith(magic)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert fresh[DIAGRAM].get("value", {}).get(suffix) == digest, fresh[DIAGRAM]


def test_draw_figure2(tmp_path):
    path = tmp_path / "f2.svg"
    result = invoke("draw", "--arch", "googlenet", "--row", "inception_3a", "--variant", "naive",
                    "-o", str(path))
    assert result.exit_code == 0, result.output
    text = path.read_text()
    # naive 3a on 28x28x192: 64 + 128 + 32 + 192 (the pool passes its input) = 416 channels
    assert "<!-- concatenate channels: 28x28x416 -->" in text
    assert "<!-- concatenate channels: 28x28x256 -->" in text
    assert "<!-- inception_3a: the naive variant -->" in text


def test_draw_a_network_and_a_model(tmp_path):
    column, model = tmp_path / "net.png", tmp_path / "model.svg"
    assert invoke("draw", "--arch", "xception", "-o", str(column)).exit_code == 0
    assert column.read_bytes().startswith(b"\x89PNG")
    result = invoke("draw", "--model", f"{MODELS}:inception_like", "--input-size", "32",
                    "--row", "mixed", "-o", str(model))
    assert result.exit_code == 0, result.output
    assert "<!-- concatenate channels: " in model.read_text()


@pytest.mark.parametrize("args, message", [
    (["--row", "nope"], "googlenet has no row 'nope'; its rows: conv1, pool1"),
    (["--variant", "naive"], "--variant draws one row beside its variant: give --row too"),
    (["--row", "conv1", "--variant", "naive"], "the naive variant leaves conv1 as it is"),
    (["--row", "inception_3a", "--variant", "bogus"], "'bogus' is neither a variant"),
])
def test_draw_refuses_in_one_line(tmp_path, args, message):
    path = tmp_path / "x.png"
    result = invoke("draw", *args, "-o", str(path))
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not path.exists()


def test_draw_refuses_a_format_it_cannot_write(tmp_path):
    result = invoke("draw", "-o", str(tmp_path / "x.jpg"))
    assert result.exit_code == 2 and "must end in .png or .svg" in result.stderr
