"""The Inception-v3 paper's claims, each checked against counts with a computed verdict."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

# The v3 paper's claims (Szegedy et al., arXiv:1512.00567), typed from the paper: (claim, where
# it is made, the stated figure as printed). Each is checked by inception_v3_claims.
V3_PAPER = {
    "params": ("fewer than 25 million parameters", "abstract", 25_000_000),
    "macs": ("about 5 billion multiply-adds", "abstract", "5"),
    "depth": ("42 layers deep", "section 6", 42),
    "vs_googlenet": ("cost about 2.5 higher than that of GoogLeNet", "section 6", "2.5"),
    "vs_bn_inception": ("a 2.5x increase in computational cost compared to Ioffe et al. "
                        "(BN-Inception)", "section 10", "2.5"),
    "table3_v3": ("Inception-v3: 4.8 Bn ops", "Table 3", "4.8"),
    "table3_googlenet": ("GoogLeNet: 1.5 Bn ops", "Table 3", "1.5"),
    "table3_ratio": ("4.8 / 1.5 = 3.2x GoogLeNet's ops", "Table 3", "3.2"),
}
ABOUT_RULE = ("'rounds to X': a stated X holds when the measured value, rounded half up to the "
              "decimals X is printed with, is X")


def about(measured: float, stated: str) -> bool:
    """``measured`` rounded half up to the decimals ``stated`` is printed with equals it."""
    step = Decimal(stated)
    return Decimal(measured).quantize(step, rounding=ROUND_HALF_UP) == step


def inception_v3_claims(v3: pd.DataFrame, googlenet: pd.DataFrame,
                        bn_inception: pd.DataFrame | None) -> pd.DataFrame:
    """Every claim of V3_PAPER against the counts of the built-in specs at their native sizes
    (profiles with aux heads), with a computed verdict; ``bn_inception`` None means that
    network has no table yet, and its claim is reported as not checked."""
    t, g = v3.attrs["totals"], googlenet.attrs["totals"]
    conv1 = googlenet.set_index("row").loc[googlenet["row"].iloc[0]]
    g_alt = g["macs"] - int(conv1["macs"]) + int(conv1["alt_macs"]) if pd.notna(
        conv1["alt_macs"]) else None
    ratio = t["macs"] / g["macs"]
    rows = [  # (claim, what was measured, its value)
        ("params", f"{t['params']:,} without the aux head", t["params"]),
        ("params", f"{t['params_with_aux']:,} with the aux head", t["params_with_aux"]),
        ("macs", f"{t['macs'] / 1e9:.3f} G (G = 10⁹)", t["macs"] / 1e9),
        ("depth", f"{t['depth']} (layers with parameters on the longest path)", t["depth"]),
        ("vs_googlenet", f"{ratio:.2f}x ({t['macs']:,} / {g['macs']:,} MACs)", ratio),
    ]
    if bn_inception is not None:
        b = bn_inception.attrs["totals"]["macs"]
        rows.append(("vs_bn_inception", f"{t['macs'] / b:.2f}x ({t['macs']:,} / {b:,} MACs)",
                     t["macs"] / b))
    rows += [("table3_v3", f"{t['macs'] / 1e9:.3f} G", t["macs"] / 1e9),
             ("table3_googlenet", f"{g['macs'] / 1e9:.3f} G", g["macs"] / 1e9)]
    if g_alt is not None:
        rows.append(("table3_googlenet", f"{g_alt / 1e9:.3f} G with conv1 as the depthwise-"
                     "separable conv that Table 1's printed conv1 figures fit", g_alt / 1e9))
    rows.append(("table3_ratio", f"{ratio:.2f}x", ratio))
    records = []
    for key, measured, value in rows:
        claim, where, stated = V3_PAPER[key]
        if key == "params":
            rule, holds = f"params < {stated:,}", value < stated
        elif key == "depth":
            rule, holds = "equal (the paper does not say how it counts)", value == stated
        else:
            rule, holds = f"rounds to {stated}", about(value, stated)
        records.append({"claim": claim, "where": where, "measured": measured, "rule": rule,
                        "verdict": "holds" if holds else "does not hold"})
    if bn_inception is None:
        claim, where, _ = V3_PAPER["vs_bn_inception"]
        records.insert(5, {"claim": claim, "where": where, "measured": "", "rule": "",
                           "verdict": "not checked: BN-Inception is not in tables/ yet"})
    df = pd.DataFrame.from_records(records)
    df.attrs["meta"] = {"verified_with_fvcore": False, "about_rule": ABOUT_RULE}
    return df
