"""Published figures and printed verdicts are computed where they apply: published figures only at
their input size and aux setting, the paper's printed figures only for the paper's network, and no
verdict typed into a table."""

import re

import pytest

from incprof.errors import SpecError
from incprof.analysis.lab import grid_records
from incprof.analysis.profile import profile_records
from incprof.referee.published import referee_figures
from incprof.render.profile import summary_lines
from incprof.spec.registry import available, resolve


def _published(df):
    (entry,) = df.attrs["totals"]["published"]
    return entry


@pytest.mark.parametrize("side", [256, 320])
def test_torchvision_figure_is_not_compared_at_another_input(side):
    df = profile_records("googlenet", flavor="torchvision", input_size=(side, side))
    entry = _published(df)
    assert entry["params_matches"] is None and entry["macs_matches"] is None
    assert entry["params_not_comparable"] == entry["macs_not_comparable"] \
        == f"input {side}x{side}, published for 224x224"
    text = "\n".join(summary_lines(df))
    assert f"not comparable (input {side}x{side}" in text and "DIFFERS" not in text


def test_torchvision_figure_is_compared_at_224():
    entry = _published(profile_records("googlenet", flavor="torchvision"))
    assert entry["params_not_comparable"] is entry["macs_not_comparable"] is None
    assert entry["input"] == [224, 224]
    assert entry["params_matches"] is True and entry["macs_matches"] is True


def test_a_figure_published_with_aux_heads_needs_them():
    df = profile_records("inception_v3", aux=False)
    entry = _published(df)
    assert entry["params_matches"] is None
    assert "published with aux heads" in entry["params_not_comparable"]
    # the MACs are for inference, where the aux heads do not run: still compared
    assert entry["macs_not_comparable"] is None and entry["macs_matches"] is True
    text = "\n".join(summary_lines(df))
    assert "not comparable (published with aux heads" in text and "DIFFERS" not in text


def test_inception_v3_published_at_its_precision():
    entry = _published(profile_records("inception_v3"))
    # torchvision Inception_V3_Weights.IMAGENET1K_V1 meta: _ops 5.713 (GFLOPS in its docs)
    assert entry["macs"] == "5.713G" and entry["macs_matches"] is True
    assert _published(profile_records("inception_v3", input_size=(320, 320)))["macs_matches"] is None


def test_paper_figures_are_not_compared_with_the_torchvision_network():
    df = profile_records("googlenet", flavor="torchvision")
    assert all(r["paper_ops_delta_pct"] is None and r["flag"] is None for r in df.rows)
    assert df.attrs["meta"]["paper_figures_not_comparable"] == "flavour torchvision"
    assert "not comparable (flavour torchvision)" in "\n".join(summary_lines(df))


def test_conv1_alternative_against_the_printed_figures():
    row = profile_records("googlenet").to_frame().set_index("row").loc["conv1"]
    alt_params, alt_macs = 7 * 7 * 3 * 8 + 24 * 64, (7 * 7 * 3 * 8 + 24 * 64) * 112 * 112
    printed_params, printed_ops = round(2.7 * 1024), 34 * 10**6  # the spec's K = 1024, M = 10^6
    assert row["alt_params_delta_pct"] == round((printed_params / alt_params - 1) * 100, 1)
    assert row["alt_ops_delta_pct"] == round((printed_ops / alt_macs - 1) * 100, 1)
    # 2,712 / 1024 = 2.648 -> 2.6K at one decimal; 2,712 / 1000 = 2.712 -> 2.7K
    assert f"{alt_params / 1024:.1f}" == "2.6" and f"{alt_params / 1000:.1f}" == "2.7"
    assert "2.6K at the printed precision, not the printed 2.7K" in row["reason"]
    assert "it is 2.7K only with K = 1,000" in row["reason"]
    # 34,019,328 / 10^6 -> 34M at no decimals
    assert "34M at the printed precision, as printed" in row["reason"]


def test_printed_params_against_printed_ops_is_computed():
    rows = profile_records("googlenet").to_frame().set_index("row")
    # 5a: 1072 x 1024 x 7 x 7 = 53,788,672, 54M: the printed columns agree with each other
    assert f"{1072 * 1024 * 49:,}" in rows.loc["inception_5a", "reason"]
    assert "the same as the printed 54M" in rows.loc["inception_5a", "reason"]
    # 4c: 463 x 1024 x 14 x 14 = 92,925,952, 93M, not the printed 100M
    assert f"{463 * 1024 * 196:,}" in rows.loc["inception_4c", "reason"]
    assert "not the printed 100M" in rows.loc["inception_4c", "reason"]


def test_grid_marker_comes_from_the_papers_formula():
    d, k = 34, 64
    df = grid_records(d, k).to_frame().set_index("form")
    # v3 paper, section 5: conv then pool 2d^2k^2, pool then conv 2(d/2)^2k^2
    assert df.loc["pool then conv", "paper_saving_pct"] == round(
        (1 - 2 * (d // 2) ** 2 * k * k / (2 * d * d * k * k)) * 100, 1)
    assert df["paper_saving_pct"].isna().tolist() == [False, False, True]


VERDICT = re.compile(r"\d\s*%|\b(match\w*|exact\w*|holds?|agree\w*|fits?|differs?|consistent|"
                     r"confirm\w*|verified)\b", re.I)


@pytest.mark.parametrize("arch", available())
def test_no_typed_verdict_in_yaml_notes(arch):
    spec = resolve(arch)
    texts = [(r.name, t) for r in spec.rows for t in (r.note, r.deviation) if t]
    texts += [(r.name, r.alternative.note) for r in spec.rows if r.alternative]
    texts += [(name, f["note"]) for name, f in spec.flavors.items() if f.get("note")]
    for where, text in texts:
        assert not VERDICT.search(text), (where, VERDICT.search(text)[0], text)


def test_verdict_pattern_catches_the_old_notes():
    for text in ("They fit a depthwise-separable 7x7 conv exactly",
                 "the printed 463K is 7% below", "the printed params and ops agree"):
        assert VERDICT.search(text)


def test_savings_plot_marks_the_grid_saving_it_is_given(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    from incprof.render import plot
    from incprof.analysis.lab import factorization_records

    marked, scatter = [], Axes.scatter

    def spy(self, x, y, *args, **kwargs):
        marked.append(list(x))  # the bars are horizontal: the saving is x
        return scatter(self, x, y, *args, **kwargs)

    monkeypatch.setattr(Axes, "scatter", spy)
    grid = grid_records()
    next(r for r in grid.rows if r["form"] == "pool then conv")["paper_saving_pct"] = 60.0
    plot.savings_bars(factorization_records(), grid, tmp_path / "savings.svg")
    assert marked == [[28.0, 33.0, 11.0, 60.0]]


# ------------------------------------------------- published figures against every convention
def figure(arch, source_start, kind=None):
    (found,) = [f for f in referee_figures(arch) if f["source"].startswith(source_start)
                and kind in (None, f["figure"])]
    return found


def test_published_figures():
    # timm's gmacs are fvcore's totals (results/benchmark-infer-amp-nchw-pt240-cu124-rtx4090.csv)
    for arch in ("inception_v3", "inception_v4", "inception_resnet_v2", "xception"):
        name = "legacy_xception" if arch == "xception" else arch
        assert "fvcore" in figure(arch, f"timm {name} infer_gmacs")["fits"]
    # 12.28 G is fvcore's total; conv and linear MACs alone (12,253,974,624) print as 12.25 G
    v4 = figure("inception_v4", "timm inception_v4 infer_gmacs")
    assert v4["fits"] == ["fvcore"]
    # torchvision's _ops 1.498 are conv and linear MACs (1,498,376,192), fvcore's total is 1.505
    tv = figure("googlenet", "torchvision googlenet", "MACs")
    assert "macs" in tv["fits"] and "fvcore" not in tv["fits"]
    assert figure("googlenet", "torchvision googlenet", "params")["fits"] == ["params"]
    # Keras counts BatchNorm's moving statistics: 23.9M, where the parameters alone are 23.8M
    keras = figure("inception_v3", "Keras InceptionV3")
    assert keras["fits"] == ["params_and_bn_statistics"]
    assert not keras["verdict"].startswith("FLAGGED")


def test_figures_that_fit_no_convention_are_flagged():
    openvino = figure("inception_resnet_v2", "OpenVINO Open Model Zoo inception-resnet-v2-tf (MP")
    assert openvino["fits"] == [] and openvino["verdict"].startswith("FLAGGED")
    # the nearest convention is the weights alone (every parameter convention is above 55M)
    assert openvino["nearest"] == "weights" and openvino["nearest_value"] > 55_000_000
    assert f"{30.223e6 / openvino['nearest_value'] - 1:+.1%}" in openvino["verdict"]
    # Xception's Table 3 prints 23,626,728 for Inception-v3: no build gives it
    table3 = figure("inception_v3", "Xception paper, Table 3")
    assert table3["fits"] == [] and table3["verdict"].startswith("FLAGGED")


def test_a_bad_refereed_entry_names_its_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ninput: [3, 8, 8]\nrows:\n"
                    "  - {name: fc, type: linear, layers: [{linear: {out: 2}}]}\n"
                    "refereed:\n  - {source: somewhere, figure: TOPS, value: 1G}\n")
    from incprof.spec.registry import load_spec

    with pytest.raises(SpecError, match=r"bad.yaml:6.*figure must be one of"):
        referee_figures(load_spec(path))


def test_the_bad_refereed_entry_is_one_located_line_from_the_reader(tmp_path):
    """The spec's one reader checks ``refereed:``: loading the spec fails, before any referee runs,
    with one line that names the file, the entry's line and the problem."""
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ninput: [3, 8, 8]\nrows:\n"
                    "  - {name: fc, type: linear, layers: [{linear: {out: 2}}]}\n"
                    "refereed:\n  - {source: somewhere, figure: MACs, value: 1G, stated: ptflops}\n")
    from incprof.spec.registry import load_spec

    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == (f"{path}:6: stated must be one of flop_counter, fvcore, macs, params, "
                               "params_and_bn_statistics, params_with_aux, ptflops_aten, "
                               "ptflops_pytorch, thop, torchinfo, torchscan, weights, got 'ptflops'")


def test_stated_conventions_are_the_referees_own():
    from incprof.referee.conventions import CONVENTIONS, param_totals
    from incprof.referee.published import PARAM_CONVENTIONS
    from incprof.spec.model import STATED

    assert set(STATED) == {*PARAM_CONVENTIONS, "macs", *CONVENTIONS}
    assert set(param_totals(resolve("googlenet"), None)) == set(PARAM_CONVENTIONS)


TINY_MACS = 6912 + 2048 + 40  # tests/data/tiny.yaml without its aux head, worked in tests/count
TINY_PARAMS = 112 + 139 + 45


def _tiny(**figures) -> dict:
    import yaml

    from conftest import DATA

    return {**yaml.safe_load((DATA / "tiny.yaml").read_text()), **figures}


def test_a_spec_built_in_memory_is_refereed():
    from incprof.spec.registry import parse_spec

    spec = parse_spec(_tiny(published=[{"source": "a", "params": TINY_PARAMS, "macs": "9K"}],
                            refereed=[{"source": "b", "figure": "params", "value": "0.35K",
                                       "stated": "params_with_aux"}]))
    found = {(f["source"], f["figure"]): f for f in referee_figures(spec)}
    # 296 exactly: the parameters, and every variable (no BatchNorm); with the aux head 347
    assert found["a", "params"]["fits"] == ["params", "params_and_bn_statistics"]
    assert "macs" in found["a", "MACs"]["fits"]
    assert found["b", "params"]["fits"] == ["params_with_aux"]  # 296 + 51 = 347 prints as 0.35K
    assert not found["b", "params"]["verdict"].startswith("FLAGGED")


@pytest.mark.parametrize("printed, prints", [
    ("9K", True), ("9.00K", True), ("8.99K", False), ("9.01K", False),
    # 9000 / 10**6 = 0.009: the number as printed, with or without its leading zero. The profile's
    # published check used to compare digits as text, so ".009M" fitted the referee and the claims
    # but not the profile.
    ("0.009M", True), (".009M", True), (".01M", True), ("0.008M", False),
])
def test_every_caller_reads_a_figure_alike(monkeypatch, printed, prints):
    """The published MACs of a profile, the referee's fits and a claim's verdict all come from
    units.prints_as: the same figure against the same count gets the same answer everywhere."""
    from incprof.analysis.claims import evaluate
    from incprof.spec.model import Claim
    from incprof.spec.registry import parse_spec
    from incprof.units import prints_as, read_printed

    spec = parse_spec(_tiny(published=[{"source": "a", "macs": printed}]))
    assert prints_as(TINY_MACS, read_printed(printed, "KMG")) is prints
    (published,) = profile_records(spec).attrs["totals"]["published"]
    assert published["macs_matches"] is prints
    (figure,) = referee_figures(spec)
    assert ("macs" in figure["fits"]) is prints
    verdict = evaluate(Claim("c", "s", "macs", printed), spec)["verdict"]
    assert verdict == ("holds" if prints else "does not hold")
