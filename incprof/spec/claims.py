"""The papers' headline claims (``claims:`` in a spec), each checked against the counts. No torch.

A claim names a quantity (params, params_with_aux, macs, macs_alternative: the MACs with every
row's ``alternative`` reading in place of its layers, depth: convs and linear layers on the longest
path, conv_depth: convs alone) of the spec's network, of another
built-in network (``of``), or the ratio of the network's quantity to another's (``against``), and
the value as the paper prints it: ``13.6M``, ``42``, ``2.5x`` or ``+25%``. The verdict compares
the computed value at the printed precision (``=``, the default: equal once rounded half up to as
many decimals as printed, so "about 2.5" holds from 2.45 to 2.55), or as a bound (``<``, ``>``).
Counts are per image, at the network's own input size, in its paper flavour, without aux heads
unless the quantity says ``with_aux``. This module reads claims; incprof.analysis.claims checks them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SpecError

QUANTITIES = ("params", "params_with_aux", "macs", "macs_alternative", "depth", "conv_depth")
RELATIONS = ("=", "<", ">")
_SCALES = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "x": 1, "%": 1}


@dataclass(frozen=True)
class Claim:
    """One claim as the spec states it."""

    claim: str  # the paper's words
    source: str  # where the paper says it
    quantity: str
    value: str  # as printed
    relation: str = "="
    of: str | None = None  # the claim is about another built-in network
    against: str | None = None  # the claim is a ratio to another built-in network
    line: int = 0


def parse_value(text: str) -> tuple[float, int, str]:
    """'13.6M' -> (13.6, 1, 'M'): the number, its decimals and its unit (K, M, G, x, % or '')."""
    from ..units import read_printed

    try:
        printed = read_printed(text, "KMGx%", signed=True)
    except ValueError:
        raise ValueError(f"a claimed value looks like 13.6M, 42, 2.5x or +25%, got {text!r}") \
            from None
    return printed.value, printed.decimals, printed.suffix


def parse_claim(entry: dict, line: int, path: str) -> Claim:
    """A ``claims:`` entry, validated, with errors naming the file and line."""
    def fail(message: str) -> SpecError:
        return SpecError(message, path=path, line=line)

    allowed = {"claim", "source", "quantity", "value", "relation", "of", "against"}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise fail(f"unknown key {unknown[0]!r} in a claim (allowed: {', '.join(sorted(allowed))})")
    for key in ("claim", "source", "quantity", "value"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise fail(f"a claim needs a non-empty string {key!r}")
    if entry["quantity"] not in QUANTITIES:
        raise fail(f"claim quantity must be one of {', '.join(QUANTITIES)}, got {entry['quantity']!r}")
    relation = entry.get("relation", "=")
    if relation not in RELATIONS:
        raise fail(f"claim relation must be one of {', '.join(RELATIONS)}, got {relation!r}")
    try:
        _, _, unit = parse_value(entry["value"])
    except ValueError as exc:
        raise fail(str(exc)) from None
    if (unit in ("x", "%")) != ("against" in entry):
        raise fail("a ratio (2.5x) or change (+25%) needs 'against', and 'against' needs one")
    for key in ("of", "against"):
        if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
            raise fail(f"claim {key!r} must name a built-in network")
    return Claim(claim=entry["claim"], source=entry["source"], quantity=entry["quantity"],
                 value=entry["value"], relation=relation, of=entry.get("of"),
                 against=entry.get("against"), line=line)
