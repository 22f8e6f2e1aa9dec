"""The reader of a spec's whole-network figures: its ``claims:``, ``published:`` and ``refereed:``
lists, each entry checked where it is written (a part of incprof.spec.parse's one reader). No torch.

A claim names a quantity (params, params_with_aux, macs, macs_alternative: the MACs with every
row's ``alternative`` reading in place of its layers, depth: convs and linear layers on the longest
path, conv_depth: convs alone) of the spec's network, of another
built-in network (``of``), or the ratio of the network's quantity to another's (``against``), and
the value as the paper prints it: ``13.6M``, ``42``, ``2.5x`` or ``+25%``. The verdict compares
the computed value at the printed precision (``=``, the default: equal once rounded half up to as
many decimals as printed, so "about 2.5" holds from 2.45 to 2.55), or as a bound (``<``, ``>``).
Counts are per image, at the network's own input size, in its paper flavour, without aux heads
unless the quantity says ``with_aux``. incprof.analysis.claims checks them.

A published figure (``published:``: params and conv and linear MACs of a reference implementation)
and a refereed one (``refereed:``: any figure someone printed, with the convention its source
states) are checked by incprof.referee.published under every convention.
"""

from __future__ import annotations

from ..errors import quoted
from ..units import read_printed
from .fields import TEXT_CHARS, FieldReader
from .model import (FIGURE_SUFFIXES, FIGURES, NOT_COST, QUANTITIES, RELATIONS, SHARE_KINDS, STATED, Claim,
                    Published, Refereed)


class FigureReader(FieldReader):
    """Reads the figure lists of a spec (``data``: its top-level mapping) with located errors."""

    def claims(self, data, line: int) -> tuple[Claim, ...]:
        """The ``claims:`` list."""
        entries = data.get("claims") or []
        if not isinstance(entries, list):
            raise self.fail("claims must be a list", line)
        lines = getattr(entries, "item_lines", [line] * len(entries))
        return tuple(self.claim(self.mapping(entry, "a claim", item_line), item_line)
                     for entry, item_line in zip(entries, lines))

    def claim(self, entry: dict, line: int) -> Claim:
        """One ``claims:`` entry."""
        allowed = {"claim", "source", "quantity", "value", "relation", "of", "against", "flavor",
                   "width", "resolution", "dense", "kind", "at", "models", "crops"}
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise self.fail(f"unknown key {quoted(unknown[0])} in a claim (allowed: "
                            f"{', '.join(sorted(allowed))})", line)
        for key in ("claim", "source", "quantity", "value"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise self.fail(f"a claim needs a non-empty string {key!r}", line)
        for key in ("claim", "source"):  # shown as written: no control characters, no megabytes
            self.text(entry[key], key, line, limit=TEXT_CHARS, multiline=True)
        if entry["quantity"] not in QUANTITIES:
            raise self.fail(f"claim quantity must be one of {', '.join(QUANTITIES)}, got "
                            f"{quoted(entry['quantity'])}", line)
        relation = entry.get("relation", "=")
        if relation not in RELATIONS:
            raise self.fail(f"claim relation must be one of {', '.join(RELATIONS)}, got "
                            f"{quoted(relation)}", line)
        claim = Claim(claim=entry["claim"], source=entry["source"], quantity=entry["quantity"],
                      value=entry["value"], relation=relation, of=entry.get("of"),
                      against=entry.get("against"), line=line, **self.build(entry, line))
        try:
            unit = claim.figure.suffix
        except ValueError:
            raise self.fail(f"a claimed value looks like 13.6M, 42, 2.5x or +25%, got "
                            f"{quoted(entry['value'])}", line) from None
        shares = claim.quantity in ("macs_share", "params_share")
        if shares != (claim.kind is not None) or (shares and unit != "%"):
            raise self.fail(f"a share (macs_share, params_share) is a percentage (94.86%) of one "
                            f"'kind': {', '.join(SHARE_KINDS)}", line)
        if (claim.quantity == "receptive_field") != (claim.at is not None):
            raise self.fail("a receptive_field claim names its row with 'at', and only it", line)
        if (claim.quantity == "passes") != (claim.models is not None and claim.crops is not None):
            raise self.fail("a passes claim gives 'models' and 'crops', and only it", line)
        own_unit = shares or claim.quantity in NOT_COST  # a percentage of its own, or not judged
        if own_unit and "against" in entry:
            raise self.fail(f"a {claim.quantity} claim takes no 'against'", line)
        if not own_unit and (unit in ("x", "%")) != ("against" in entry):
            raise self.fail("a ratio (2.5x) or change (+25%) needs 'against', and 'against' "
                            "needs one", line)
        for key in ("of", "against"):
            if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
                raise self.fail(f"claim {key!r} must name a built-in network", line)
            if key in entry:  # shown when it is not one
                self.text(entry[key], key, line)
        return claim

    def build(self, entry: dict, line: int) -> dict:
        """A claim's build keys: its flavour, its multipliers and what its quantity needs."""
        out = {}
        if "flavor" in entry:
            out["flavor"] = self.text(entry["flavor"], "flavor", line)
        if "width" in entry:
            width = entry["width"]
            if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 1:
                raise self.fail(f"a claim's width multiplier is a number in (0, 1], got "
                                f"{quoted(width)}", line)
            out["width"] = float(width)
        for key in ("resolution", "models", "crops"):
            if key in entry:
                out[key] = self.integer(entry[key], key, line, minimum=1, maximum=100_000)
        if "dense" in entry:
            out["dense"] = self.boolean(entry["dense"], "dense", line)
        if "kind" in entry:
            if entry["kind"] not in SHARE_KINDS:
                raise self.fail(f"a share's kind must be one of {', '.join(SHARE_KINDS)}, got "
                                f"{quoted(entry['kind'])}", line)
            out["kind"] = entry["kind"]
        if "at" in entry:
            out["at"] = self.text(entry["at"], "at", line)
        return out

    def published(self, data, line: int) -> tuple[Published, ...]:
        """The ``published:`` list."""
        entries = data.get("published") or []
        if not isinstance(entries, list):
            raise self.fail("published must be a list", line)
        out = []
        for entry in entries:
            entry = self.mapping(entry, "a published entry", line)
            self.keys(entry, {"source", "flavor", "aux", "params", "macs", "input"}, {"source"},
                      "a published entry", line)
            macs = entry.get("macs")
            figure = None if macs is None else self.figure(macs)
            if macs is not None and not (figure and figure.suffix):
                raise self.fail(f"published macs must look like 5.713G (a number and K, M or G), "
                                f"got {quoted(macs)}", line)
            out.append(Published(
                source=self.text(entry["source"], "source", line, limit=TEXT_CHARS),
                flavor=self.text(entry.get("flavor", "paper"), "flavor", line),
                aux=self.boolean(entry.get("aux", False), "aux", line),
                params=None if entry.get("params") is None else self.integer(
                    entry["params"], "params", line, maximum=10**13),
                macs=None if macs is None else str(macs),
                input=None if entry.get("input") is None else self.pair(
                    entry["input"], "published input", line)))
        return tuple(out)

    def refereed(self, data, line: int) -> tuple[Refereed, ...]:
        """The ``refereed:`` list."""
        entries = data.get("refereed")
        if entries is None:
            return ()
        if not isinstance(entries, list):
            raise self.fail("refereed must be a list", line)
        out = []
        for entry in entries:
            at = getattr(entry, "line", line)
            entry = self.mapping(entry, "a refereed entry", at)
            self.keys(entry, {"source", "figure", "value", "flavor", "input", "stated"},
                      {"source", "figure", "value"}, "a refereed entry", at)
            figure, value = entry["figure"], str(entry["value"])
            if figure not in FIGURES:
                raise self.fail(f"figure must be one of {', '.join(FIGURES)}, got {quoted(figure)}", at)
            if self.figure(value) is None:
                raise self.fail(f"value must look like 42.68M or 6624904, got {quoted(value)}", at)
            stated = entry.get("stated")
            if stated is not None and stated not in STATED:
                raise self.fail(f"stated must be one of {', '.join(sorted(STATED))}, got "
                                f"{quoted(stated)}", at)
            out.append(Refereed(self.text(entry["source"], "source", at, limit=TEXT_CHARS),
                                figure, value, self.text(entry.get("flavor", "paper"), "flavor", at),
                                None if entry.get("input") is None else
                                self.pair(entry["input"], "input", at), stated))
        return tuple(out)

    @staticmethod
    def figure(value):
        """A published figure as printed, a number with an optional K, M or G (42.68M, 6624904);
        None if ``value`` is not one."""
        try:
            return read_printed(value, FIGURE_SUFFIXES)
        except ValueError:
            return None
