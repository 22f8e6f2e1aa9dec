"""The papers' headline claims: parsing, the verdict rule, and the family's claims (no torch)."""

import pytest

from incprof.analysis import claims
from incprof.analysis.claims import evaluate
from incprof.errors import SpecError
from incprof.spec.model import Claim
from incprof.spec.registry import load_spec, resolve

TINY_PARAMS = 112 + 139 + 45  # tests/data/tiny.yaml worked by hand (tests/test_analytic.py), no aux


@pytest.mark.parametrize(("text", "parsed"), [("13.6M", (13.6, 1, "M")), ("42", (42.0, 0, "")),
                                              ("2.5x", (2.5, 1, "x")), ("+25%", (25.0, 0, "%")),
                                              ("-3.25%", (-3.25, 2, "%"))])
def test_values_keep_their_printed_precision(text, parsed):
    figure = Claim("c", "s", "macs", text).figure
    assert (figure.value, figure.decimals, figure.suffix) == parsed


def test_verdict_is_taken_at_the_printed_precision(monkeypatch):
    monkeypatch.setattr(claims, "quantity", lambda spec, what: TINY_PARAMS)
    at = {"0.3K": "holds", "0.30K": "holds", "0.29K": "does not hold", "296": "holds",
          "295": "does not hold"}
    for value, verdict in at.items():
        result = evaluate(Claim("c", "s", "params", value), "tiny")
        assert result["verdict"] == verdict, value
    # bounds compare the exact value: 0.296K is below 0.3K, though it rounds to it
    assert evaluate(Claim("c", "s", "params", "0.3K", relation="<"), "tiny")["verdict"] == "holds"
    assert evaluate(Claim("c", "s", "params", "0.3K", relation=">"), "tiny")["verdict"] == \
        "does not hold"


def test_ratio_and_change_claims(monkeypatch):
    values = {"a": 300, "b": 120}
    monkeypatch.setattr(claims, "quantity", lambda spec, what: values[spec])
    monkeypatch.setattr("incprof.spec.registry.available", lambda: ["a", "b"])
    assert evaluate(Claim("c", "s", "macs", "2.5x", against="b"), "a")["verdict"] == "holds"
    change = evaluate(Claim("c", "s", "macs", "+150%", against="b"), "a")
    assert change["verdict"] == "holds" and change["shown"] == "+150%"
    assert evaluate(Claim("c", "s", "macs", "+25%", against="b"), "a")["verdict"] == "does not hold"


def test_a_claim_on_a_missing_network_is_not_checked(monkeypatch):
    monkeypatch.setattr("incprof.spec.registry.available", lambda: ["inception_v3"])
    result = evaluate(Claim("c", "s", "macs", "2.5x", against="bn_inception"), "inception_v3")
    assert result["verdict"] == "not checked: bn_inception is not in tables/ yet"


def test_xception_table3_figure_for_inception_v3():
    """Xception's Table 3 prints 23,626,728 for Inception V3; torchvision's inception_v3 without
    its aux head has 23,834,568 (27,161,264 published with it, minus the aux head), 207,840 more."""
    (v3,) = [c for c in resolve("xception").claims if c.of == "inception_v3"]
    result = evaluate(v3, "xception")
    assert result["computed"] == 23_834_568 == 23_626_728 + 207_840
    assert result["verdict"] == "does not hold"


def test_xception_has_36_conv_layers_on_its_longest_path():
    """Section 3: 36 convolutional layers, counting each separable conv once: 2 stem convs, 3 x 2
    entry-flow separable convs, 8 x 3 middle-flow ones, 2 in the last block and 2 after it."""
    (depth,) = [c for c in resolve("xception").claims if c.quantity == "conv_depth"]
    result = evaluate(depth, "xception")
    assert result["computed"] == 2 + 3 * 2 + 8 * 3 + 2 + 2 == 36 and result["verdict"] == "holds"


@pytest.mark.parametrize(("entry", "message"), [
    ({"claim": "c", "source": "s", "quantity": "flops", "value": "1G"}, "quantity must be one of"),
    ({"claim": "c", "source": "s", "quantity": "macs", "value": "about 1G"}, "looks like 13.6M"),
    ({"claim": "c", "source": "s", "quantity": "macs", "value": "2.5x"}, "needs 'against'"),
    ({"claim": "c", "source": "s", "quantity": "macs", "value": "1G", "relation": "~"},
     "relation must be one of"),
    ({"claim": "c", "quantity": "macs", "value": "1G"}, "non-empty string 'source'"),
    # the spec's one reader holds claims to its text limits: no control characters in what is shown
    ({"claim": "c\u001b[2J", "source": "s", "quantity": "macs", "value": "1G"},
     "claim contains the control character U[+]001B"),
    ({"claim": "c", "source": "s", "quantity": "macs", "value": "1G", "of": "x\u0007"},
     "of contains the control character U[+]0007"),
])
def test_bad_claims_name_the_line(write_spec, entry, message):
    text = (DATA_TINY + "claims:\n  - " + repr(entry).replace("'", '"') + "\n")
    with pytest.raises(SpecError, match=message) as info:
        load_spec(write_spec(text))
    assert ":" in str(info.value).split(" ")[0]


DATA_TINY = """name: t
input: [3, 8, 8]
rows:
  - {name: conv, type: convolution, layers: [{conv: {out: 4, kernel: 3}}]}
"""


def test_rounding_is_half_up(monkeypatch):
    """'about 2.5' holds from 2.45 (rounded half up, not to even) to just below 2.55."""
    values = {"a": 245, "b": 100}
    monkeypatch.setattr(claims, "quantity", lambda spec, what: values[spec])
    monkeypatch.setattr("incprof.spec.registry.available", lambda: ["a", "b"])
    for a, verdict in ((245, "holds"), (254, "holds"), (244, "does not hold"),
                       (255, "does not hold")):
        values["a"] = a
        assert evaluate(Claim("c", "s", "macs", "2.5x", against="b"), "a")["verdict"] == verdict, a


# TF-slim's receptive fields (google-research/receptive_field, receptive_field/RECEPTIVE_FIELD_TABLE.md,
# commit f12ae8e), typed from that table: (table, our row for its end point, the field).
TF_SLIM_FIELDS = [("inception_v3", "mixed_7c", 1311), ("inception_v4", "inception_c3", 2071),
                  ("inception_resnet_v2", "conv2d_7b", 3039), ("bn_inception", "inception_5b", 699),
                  ("mobilenet_v1", "conv13_pw", 315)]


@pytest.mark.parametrize(("arch", "row", "field"), TF_SLIM_FIELDS)
def test_receptive_fields_match_tf_slims_table(arch, row, field):
    (claim,) = [c for c in resolve(arch).claims if c.quantity == "receptive_field"]
    assert (claim.at, claim.value) == (row, str(field))
    result = evaluate(claim, arch)
    assert result["computed"] == field and result["verdict"] == "holds"


def test_shares_are_of_conv_and_linear_macs_by_kind():
    """MobileNet's 1x1 convs: the 13 pointwise convs' MACs over the network's, by Table 1."""
    pointwise = [(32, 64, 112), (64, 128, 56), (128, 128, 56), (128, 256, 28), (256, 256, 28),
                 (256, 512, 14), *[(512, 512, 14)] * 5, (512, 1024, 7), (1024, 1024, 7)]
    macs = sum(cin * cout * grid * grid for cin, cout, grid in pointwise)
    total = 568_740_352  # timm's mobilenetv1_100 under FlopCounterMode (tests/reference)
    (claim,) = [c for c in resolve("mobilenet_v1").claims
                if c.quantity == "macs_share" and c.kind == "1x1 conv"]
    result = evaluate(claim, "mobilenet_v1")
    assert result["computed"] == round(100 * macs / total, 6)
    assert result["shown"] == "94.86%" and result["verdict"] == "holds"


def test_passes_turn_googlenets_table3_into_macs_per_image():
    (claim,) = [c for c in resolve("googlenet").claims if c.value == "1008"]
    result = evaluate(claim, "googlenet")
    assert result["computed"] == 7 * 144 and result["verdict"] == "holds"
    assert f"{1008 * 1_582_671_872:,} MACs per image" in result["detail"]


def test_accuracy_and_speed_are_not_judged():
    for name in ("mobilenet_v1", "xception"):
        for claim in resolve(name).claims:
            if claim.quantity in ("accuracy", "speed"):
                result = evaluate(claim, name)
                assert result["verdict"] == "not a cost claim: not checked"
                assert result["computed"] is None


def test_every_verdict_names_the_build_and_its_departure():
    (irv2,) = [c for c in resolve("inception_resnet_v2").claims if c.against == "inception_v4"]
    build = evaluate(irv2, "inception_resnet_v2")["build"]
    assert build.startswith("inception_resnet_v2, paper flavour; on timm's widths (1088, 2080)")
    assert "not the paper's (1154, 2048" in build
    table8 = [evaluate(c, "mobilenet_v1") for c in resolve("mobilenet_v1").claims
              if c.of == "googlenet" and c.flavor == "torchvision"]
    assert table8 and all(r["build"].startswith("googlenet, torchvision flavour; ") for r in table8)
    width = [evaluate(c, "mobilenet_v1") for c in resolve("mobilenet_v1").claims if c.width]
    assert width and all("width" in r["build"] for r in width)


@pytest.mark.parametrize(("entry", "message"), [
    ({"claim": "c", "source": "s", "quantity": "macs_share", "value": "9%"}, "one 'kind'"),
    ({"claim": "c", "source": "s", "quantity": "macs_share", "kind": "1x1 conv", "value": "9M"},
     "a percentage"),
    ({"claim": "c", "source": "s", "quantity": "macs", "kind": "pool", "value": "9M"},
     "kind must be one of"),
    ({"claim": "c", "source": "s", "quantity": "receptive_field", "value": "9"}, "'at'"),
    ({"claim": "c", "source": "s", "quantity": "passes", "models": 7, "value": "9"},
     "'models' and 'crops'"),
    ({"claim": "c", "source": "s", "quantity": "macs", "width": 2, "value": "9M"},
     "width multiplier"),
    ({"claim": "c", "source": "s", "quantity": "accuracy", "against": "t", "value": "70.6%"},
     "takes no 'against'"),
    ({"claim": "c", "source": "s", "quantity": "macs", "resolution": 0, "value": "9M"},
     "resolution must be"),
])
def test_bad_build_keys_name_the_line(write_spec, entry, message):
    text = (DATA_TINY + "claims:\n  - " + repr(entry).replace("'", '"') + "\n")
    with pytest.raises(SpecError, match=message):
        load_spec(write_spec(text))
