"""Each row's latency predicted from its counts and a device profile: a roofline per kernel. No torch.

A row runs as kernels (a conv, its BatchNorm, its ReLU, a concatenation, ...), each declared once
per layer type in KERNEL_RULES. A kernel takes the longer of its compute time (its MACs or window
ops at the profile's achievable rate for its op class and math, between the rates measured with
hot and with cold caches by how many bytes the row moves against the knees of the profile's copy
bandwidth) and its memory time (the values it reads and writes, weights included, at the
bandwidth measured for as many bytes as the row moves), plus the profile's per-kernel overhead
(dispatch on the CPU, launch on a GPU). An Inception module is bounded both ways: its branches one
after another (``serial``, how eager PyTorch runs them on one stream or thread) or side by side,
the module as long as its slowest branch (``parallel``, what a device that overlapped them could
reach). The prediction is the serial bound; the parallel one is shown beside it. Every figure
comes from the profile (incprof.nn.profiles), none from code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from ..count.analytic import _kernel_class
from ..errors import UsageError
from ..spec.layers import (LRN, AdaptiveAvgPool, Branches, Conv, Dropout, GlobalAvgPool, Linear, Pool,
                           ReLU, Residual, Separable, Shape, Softmax)
from ..spec.shapes import numel, rule, walk

# The op classes a profile rates: MAC/s for these ...
MAC_OPS = ("conv 1x1", "conv nxn", "conv 1xn", "conv depthwise", "conv grouped", "conv stem",
           "linear")
# A conv on at most this many input channels (an image) is a stem conv, rated apart.
STEM_CHANNELS = 4
# ... ops/s for these (a pool's window ops, one op per value for BatchNorm and ReLU-like passes);
# every other kernel (a copy) is rated by its bytes alone.
WINDOW_OPS = ("pool max", "pool avg", "pool global", "pool adaptive", "batchnorm", "relu", "lrn")
# The class whose rate a profile without a class's own figures gives it (the datasheet profiles
# have no "conv grouped": rated as a depthwise conv; a profile without an adaptive pool's own
# rates, a datasheet's or an older calibration's, rates it as an average pool).
FALLBACK = {"conv grouped": "conv depthwise", "pool adaptive": "pool avg"}
CONV_OPS = {"1x1 conv": "conv 1x1", "n x n conv": "conv nxn", "1 x n / n x 1 conv": "conv 1xn"}


@dataclass(frozen=True)
class Kernel:
    """One kernel of a layer, per image: its op class, its work (MACs, or window ops for a pool;
    0 for a kernel rated by bytes alone), the activation values it reads and writes, the weight
    values it reads (once per batch), its output positions and the values it writes into a
    newly allocated buffer (``fresh``: 0 for an in-place pass); where a profile has no rate for
    its op, the kernels torch runs for it (``instead``), priced one by one."""

    op: str
    work: int = 0
    values: int = 0
    weights: int = 0
    pixels: int = 1  # output positions per image (H*W; 1 for a linear layer): the rate's 2nd key
    instead: tuple["Kernel", ...] = ()
    fresh: int = 0


# A module call that runs no kernel of its own (a container, the identity): the overhead alone.
CALL = Kernel("call")


def _conv_kernels(layer: Conv | Separable, i: Shape, o: Shape) -> list[Kernel]:
    hw = o[1] * o[2]
    if isinstance(layer, Separable):
        mid = i[0] * layer.multiplier
        dw = layer.kernel[0] * layer.kernel[1] * mid
        out = [Kernel("conv depthwise", dw * hw, numel(i) + mid * hw, dw, hw, fresh=mid * hw),
               Kernel("conv 1x1", mid * layer.out * hw, (mid + layer.out) * hw, mid * layer.out,
                      hw, fresh=numel(o))]
    else:
        weights = layer.kernel[0] * layer.kernel[1] * (i[0] // layer.groups) * layer.out
        op = ("conv depthwise" if layer.groups == i[0] > 1 else "conv grouped" if layer.groups > 1
              else "conv stem" if i[0] <= STEM_CHANNELS else CONV_OPS[_kernel_class(layer)])
        out = [Kernel(op, weights * hw, numel(i) + numel(o), weights, hw, fresh=numel(o))]
    out.append(CALL)  # the module that holds the conv, its BatchNorm and ReLU
    if layer.bn_eps is not None:
        out.append(Kernel("batchnorm", numel(o), 2 * numel(o), 4 * layer.out, hw, fresh=numel(o)))
    if layer.relu:
        out.append(_pass(o))  # in place
    return out


def _pass(o: Shape, values: int = 2, fresh: bool = False) -> Kernel:
    """One elementwise pass over a tensor of shape ``o`` (a ReLU, a sum, a scaling), touching
    ``values`` values per element, into a new tensor where ``fresh`` (else in place)."""
    return Kernel("relu", numel(o), values * numel(o), 0, o[1] * o[2] if len(o) == 3 else 1,
                  fresh=numel(o) if fresh else 0)


def _linear_kernels(layer: Linear, i: Shape, o: Shape) -> list[Kernel]:
    weights = numel(i) * layer.out
    return [Kernel("linear", weights, numel(i) + layer.out, weights, fresh=layer.out), CALL,
            *([_pass((layer.out, 1, 1))] if layer.relu else [])]


def _lrn_kernels(layer: LRN, i: Shape, o: Shape) -> list[Kernel]:
    # one window op per element and window size, rated as a whole where the profile measured it;
    # else as torch's local_response_norm runs it: square, pad, a window average over channels,
    # then scale, shift, power and divide, six passes over the tensor and an average pool
    window = Kernel("pool avg", layer.size * numel(o), 2 * numel(o), 0, o[1] * o[2])
    return [Kernel("lrn", window.work, window.values, 0, window.pixels,
                   instead=(window, *[_pass(o)] * 6), fresh=numel(o))]


def _global_kernels(layer, i: Shape, o: Shape) -> list[Kernel]:
    # a global average: one op per input value over the input's positions
    return [Kernel("pool global", numel(i), numel(i) + numel(o), 0, i[1] * i[2], fresh=numel(o))]


def _adaptive_kernels(layer: AdaptiveAvgPool, i: Shape, o: Shape) -> list[Kernel]:
    # to one position a global average; else torch's adaptive kernel, one op per output value:
    # its time goes with the values it writes (calibrated: about the same per value for windows of
    # one position and of four), not with what it reads
    if o[1] * o[2] == 1:
        return _global_kernels(layer, i, o)
    return [Kernel("pool adaptive", numel(o), numel(i) + numel(o), 0, o[1] * o[2],
                   fresh=numel(o))]


# Each layer type's kernels from its input and output shapes (a Branches or Residual: only what
# it adds to its parts, the concatenation or the sum; ``row_costs`` walks the parts).
KERNEL_RULES = {
    Conv: _conv_kernels, Separable: _conv_kernels, Linear: _linear_kernels,
    Pool: lambda layer, i, o: [Kernel(f"pool {layer.kind}",
                                      layer.kernel[0] * layer.kernel[1] * numel(o),
                                      numel(i) + numel(o), 0, o[1] * o[2], fresh=numel(o))],
    GlobalAvgPool: _global_kernels, AdaptiveAvgPool: _adaptive_kernels,
    LRN: _lrn_kernels,
    ReLU: lambda layer, i, o: [_pass(o, fresh=True)],  # not in place (see nn.build)
    Softmax: lambda layer, i, o: [_pass(o, fresh=True)],
    # the identity at inference: its module's call and an op that does no work
    Dropout: lambda layer, i, o: [Kernel("identity")],
    # the concatenation, and the calls of the module and of each branch
    Branches: lambda layer, i, o: [Kernel("copy", 0, 2 * numel(o), fresh=numel(o)),
                                   *[CALL] * (1 + len(layer.branches))],
    # the sum, a scaling and a ReLU, each into a new tensor (see nn.build.Add)
    Residual: lambda layer, i, o: [_pass(o, 3, fresh=True)] + [_pass(o, fresh=True)] * (
        (layer.scale != 1) + layer.relu),
}


@dataclass(frozen=True)
class Cost:
    """Predicted seconds of a row or part of one: the serial and parallel bounds; the serial time
    split by what bounds each kernel (compute, memory) and the per-kernel overhead; for the
    ceilings, every kernel's compute time and memory time whichever bounds it; and what the row
    adds within a pass of the whole network (``in_network_s``, see Rates.kernel)."""

    serial_s: float = 0.0
    parallel_s: float = 0.0
    compute_s: float = 0.0
    memory_s: float = 0.0
    overhead_s: float = 0.0
    kernels: int = 0
    all_compute_s: float = 0.0
    all_memory_s: float = 0.0
    moved_bytes: float = 0.0
    in_network_s: float = 0.0

    def then(self, other: "Cost") -> "Cost":
        """This, then ``other`` (field by field: dataclasses.astuple copies deeply, and this runs
        for every kernel of every row)."""
        return Cost(*(getattr(self, name) + getattr(other, name) for name in _COST_FIELDS))

    def beside(self, others: list["Cost"]) -> "Cost":
        """Parts run side by side after this: serial figures add up, the parallel bound takes
        the slowest part's."""
        total = self
        for other in others:
            total = total.then(other)
        return replace(total, parallel_s=self.parallel_s + max(o.parallel_s for o in others))

    @property
    def bound(self) -> str:
        """What most of the serial time is: compute, memory or overhead."""
        parts = {"compute": self.compute_s, "memory": self.memory_s, "overhead": self.overhead_s}
        return max(parts, key=parts.get)


_COST_FIELDS = tuple(f.name for f in fields(Cost))


# The knees of the copy-bandwidth curve: hot caches up to the largest size that copies at
# HOT_SHARE of the best bandwidth or more; cold from the smallest size that copies at most
# COLD_MARGIN above the bandwidth of the largest size measured (main memory).
HOT_SHARE, COLD_MARGIN = 0.9, 0.1


def cache_knees(bandwidth: list[list[float]]) -> tuple[float, float]:
    """(hot_below, cold_above) bytes from a profile's copy bandwidth ([[bytes, bytes/s], ...],
    sorted): where the copies leave the fastest cache, and where they reach main memory."""
    best = max(rate for _, rate in bandwidth)
    hot = max(size for size, rate in bandwidth if rate >= HOT_SHARE * best)
    memory = bandwidth[-1][1]
    cold = min(size for size, rate in bandwidth if size >= hot and rate <= memory * (1 + COLD_MARGIN))
    return hot, max(cold, hot)


class Rates:
    """A device profile read for one math (fp32, tf32, fp16, bf16) and value size."""

    def __init__(self, profile: dict, conv_math: str, linear_math: str, value_bytes: int,
                 calls_apart: bool = False) -> None:
        for name in (conv_math, linear_math):
            if name not in profile["rates"]:
                hint = ("allow no TF32 (--no-tf32) or calibrate on the device" if name == "tf32"
                        else f"calibrate one ('incprof calibrate --dtype {name}') or predict in "
                        f"{' or '.join(profile['rates'])}")
                raise UsageError(f"the device profile {profile['name']!r} has no {name} rates "
                                 f"(it has {', '.join(profile['rates'])}): {hint}")
        def read(table: dict) -> dict:
            return {**table[conv_math], "linear": table[linear_math]["linear"]}

        self.rates = read(profile["rates"])
        # rates measured with other kernels' data between the calls (cold caches), where the
        # profile has them (see rate)
        self.cold = read(profile["cold_rates"]) if "cold_rates" in profile else self.rates
        self.bandwidth = sorted(profile["bandwidth"])  # [[bytes, bytes/s], ...]
        # where caches end: as the profile says (calibrate writes it), else read off its copies
        self.hot_below, self.cold_above = profile.get("cache_knees") or cache_knees(self.bandwidth)
        self.overhead_s = profile["overhead_s"]
        self.call_s = profile.get("call_s", self.overhead_s)
        # with ``calls_apart`` every module call is priced apart (a "call" kernel each, see
        # nn.predict_ops), so an op pays its dispatch alone: the overhead (timed as a module
        # running one op) less a call; where the profile timed no call, each op the overhead and
        # a call nothing
        self.op_s = self.overhead_s
        if calls_apart and "call_s" not in profile:
            self.call_s = 0.0
        elif calls_apart and self.call_s < self.overhead_s:
            self.op_s = self.overhead_s - self.call_s
        self.value_bytes = value_bytes
        self.cpu = profile.get("device_type") == "cpu"  # see fresh_s
        self.working_set = 0  # the bytes the row being priced moves (see predict_rows)

    def bytes_per_s(self, size: float) -> float:
        """The bandwidth measured at the smallest size at least ``size`` bytes (the largest past
        them all)."""
        for limit, rate in self.bandwidth:
            if size <= limit:
                return rate
        return self.bandwidth[-1][1]

    def coldness(self) -> float:
        """How far the row being priced is from hot caches: 0 where its working set is at most
        ``hot_below``, 1 from ``cold_above``, log-interpolated between (see cache_knees)."""
        low, high, size = self.hot_below, self.cold_above, self.working_set
        if size <= low:
            return 0.0
        return 1.0 if size >= high else math.log(size / low) / math.log(high / low)

    def rate(self, op: str, work: int, pixels: int = 1) -> float:
        """The profile's rate for ``op`` at this much work over this many output positions (see
        ``_nearest``), between its hot and cold rates by the row's ``coldness``."""
        hot = self._nearest(self.rates, op, work, pixels)
        cold = self.coldness()
        if cold == 0:
            return hot
        far = self._nearest(self.cold, op, work, pixels)
        return math.exp((1 - cold) * math.log(hot) + cold * math.log(far))

    @staticmethod
    def _nearest(table: dict, op: str, work: int, pixels: int) -> float:
        """The measured [work, pixels, rate] points of ``op`` nearest on log scales (the sum of
        the two log distances), the two nearest weighted by inverse distance; an exact match is
        itself."""
        points = table.get(op) or table.get(FALLBACK.get(op, op))
        if not points:
            raise UsageError(f"the device profile has no rate for {op}: recalibrate it "
                             "('incprof calibrate') or add the class to its JSON")
        near = sorted((abs(math.log(work / w)) + abs(math.log(pixels / p)), r)
                      for w, p, r in points)[:2]
        if near[0][0] == 0 or len(near) == 1:
            return near[0][1]
        weights = [1 / d for d, _ in near]
        return math.exp(sum(w * math.log(r) for w, (_, r) in zip(weights, near)) / sum(weights))

    def fresh_s(self, k: Kernel, batch: int) -> float:
        """What writing ``k``'s new output costs more within a pass of the whole network than in
        its row timed alone. Alone, each call's output lands in the buffer its previous call just
        freed, still in the caches at the row's working set; in a pass, the allocator hands out
        a block that other rows' data went through, so the write first reads each line in from
        main memory: twice the bytes, at the bandwidth of the profile's largest copy, against
        the row's own. On the CPU only: measured there (docs/latency.md); a GPU's caching
        allocator and its caches are another matter, not measured."""
        if not k.fresh or not self.cpu:
            return 0.0
        moved = 2 * k.fresh * batch * self.value_bytes
        memory = self.bandwidth[-1][1]
        return max(0.0, moved / memory - moved / self.bytes_per_s(max(moved, self.working_set)))

    def kernel(self, k: Kernel, batch: int) -> Cost:
        """One kernel's cost for a batch."""
        if k.instead and k.op not in self.rates:
            total = Cost(in_network_s=self.fresh_s(k, batch))
            for part in k.instead:
                total = total.then(self.kernel(part, batch))
            return total
        rated = k.op in (*MAC_OPS, *WINDOW_OPS) and k.work > 0
        compute = (k.work * batch / self.rate(k.op, k.work * batch, k.pixels * batch) if rated
                   else 0.0)
        moved = (k.values * batch + k.weights) * self.value_bytes
        memory = moved / self.bytes_per_s(max(moved, self.working_set)) if moved else 0.0
        busy = max(compute, memory)
        overhead = self.call_s if k.op == "call" else self.op_s
        total = busy + overhead
        return Cost(total, total, busy if compute >= memory else 0.0,
                    busy if memory > compute else 0.0, overhead, 1, compute, memory, moved,
                    self.fresh_s(k, batch))


def sequence_cost(layers, in_shape: Shape, rates: Rates, batch: int) -> Cost:
    """The cost of a layer sequence: its layers one after another; a Branches' branches serial in
    ``serial_s`` and side by side (its slowest branch) in ``parallel_s``."""
    total = Cost()
    for layer, i, o in walk(layers, in_shape)[0]:
        if isinstance(layer, Branches):
            total = total.beside([sequence_cost(b, i, rates, batch) for b in layer.branches])
        elif isinstance(layer, Residual):
            total = total.then(sequence_cost(layer.body, i, rates, batch))
            total = total.then(sequence_cost(layer.shortcut, i, rates, batch))
        for k in rule(KERNEL_RULES, layer)(layer, i, o):
            total = total.then(rates.kernel(k, batch))
    return total


def _kernels(layers, in_shape: Shape):
    """Every kernel of a layer sequence, its branches' and residual parts' included."""
    for layer, i, o in walk(layers, in_shape)[0]:
        if isinstance(layer, Branches):
            for branch in layer.branches:
                yield from _kernels(branch, i)
        elif isinstance(layer, Residual):
            yield from _kernels(layer.body, i)
            yield from _kernels(layer.shortcut, i)
        yield from rule(KERNEL_RULES, layer)(layer, i, o)


def moved_bytes(layers, in_shape: Shape, batch: int, value_bytes: int) -> int:
    """The bytes a layer sequence's kernels read and write for a batch: activations, and the
    weights once."""
    return sum((k.values * batch + k.weights) * value_bytes for k in _kernels(layers, in_shape))


def predict_rows(placed, profile: dict, maths: tuple[str, str], value_bytes: int,
                 batch: int) -> dict[str, Cost]:
    """Each placed row's (``spec.shapes.place``) predicted cost for a batch, by name, with
    ``maths`` the math of its convs and of its linear layers (profiles.maths_for). A row's
    kernels move their bytes at the bandwidth measured for as many bytes as the whole row moves:
    the cache level its data lives in when it runs."""
    rates = Rates(profile, *maths, value_bytes)
    call = rates.kernel(CALL, batch)  # the row's own module
    out = {}
    for p in placed:
        rates.working_set = moved_bytes(p.layers, p.in_shape, batch, value_bytes)
        out[p.name] = call.then(sequence_cost(p.layers, p.in_shape, rates, batch))
    return out
