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
