"""The generic grid of shapes that ``incprof calibrate`` measures and the speed probe runs
(incprof.nn.probe): no network's rows. No torch."""

# The shapes are a generic grid, not any network's rows: square maps of SIDES (a factor of about
# sqrt(2) apart, 7 to 56) with a width that doubles as the side halves (64 channels at 56, 512 at
# 7), as in most image networks; per side a few channel ratios, so that each class is measured
# from small maps with many channels to large maps with few. A stem's larger maps (80 to 160, at
# least 32 channels) are measured at one ratio.
SIDES = (7, 10, 14, 20, 28, 40, 56)
LARGE_SIDES = (80, 112, 160)
# The smallest maps, measured apart: an Inception network's last maps at 224x224 are 5x5, where
# the CPU's conv kernels ran at half their 8x8 rate on this project's machine (23 against 46
# GMAC/s for a 1x1 and a 1x3 conv). The speed probe leaves them out (PROBE_SHAPES), so that it
# is the probe that earlier calibrations timed.
SMALL_SIDES = (5,)


def width(side: int) -> int:
    """The grid's channel count at this side: 64 * 56 / side, to a multiple of 16, at least 32."""
    return max(32, round(64 * 56 / side / 16) * 16)


def _grid(ratios, kernel, sides=SIDES):
    """(in, out, kernel, stride 1, groups 1, side) for each side and (in, out) channel ratio."""
    return [(round(width(s) * a), round(width(s) * b), kernel, 1, 1, s)
            for s in sides for a, b in ratios]


# (in channels, out channels, kernel, stride, groups, input side) per conv class, "same" padding
CONV_SHAPES = {
    "conv 1x1": _grid([(1, 1), (4, 1), (1, 4)], (1, 1)) + _grid([(1, 2)], (1, 1), LARGE_SIDES)
    + _grid([(1, 0.5), (2, 0.5)], (1, 1), SMALL_SIDES),
    "conv nxn": _grid([(1, 1), (0.5, 1), (1, 2)], (3, 3)) + _grid([(1, 2)], (3, 3), LARGE_SIDES)
    + _grid([(0.25, 0.5)], (5, 5), (7, 14, 28, 56)) + _grid([(0.5, 0.5)], (3, 3), SMALL_SIDES),
    "conv 1xn": _grid([(0.5, 0.5)], (1, 7), (10, 20)) + _grid([(0.5, 0.5)], (7, 1), (14, 28))
    + _grid([(1, 1)], (1, 3), (7, 14)) + _grid([(1, 1)], (3, 1), (10, 20))
    + _grid([(0.5, 0.5)], (1, 3), SMALL_SIDES) + _grid([(0.5, 0.5)], (3, 1), SMALL_SIDES),
    "conv depthwise": [(width(s), width(s), (3, 3), 1, width(s), s) for s in (7, 14, 28, 56, 112)]
    + [(128, 128, (3, 3), 2, 128, 56), (256, 256, (5, 5), 1, 256, 14),
       (128, 128, (5, 5), 1, 128, 28)]
    # and small ones, whose call's fixed cost is most of their time (ShuffleNet's last stage),
    # and few channels on a large map, which ran at half the rate of as many MACs on more
    # channels (ShuffleNet's first stages: 58 channels at 56x56, stride 2, 3 GMAC/s here)
    + [(128, 128, (3, 3), 1, 128, 7), (256, 256, (3, 3), 2, 256, 14),
       (128, 128, (3, 3), 1, 128, 14), (64, 64, (3, 3), 1, 64, 28), (32, 32, (3, 3), 2, 32, 56)],
    # groups of 8 and 32 channels (neither 1 nor depthwise): as many small convs as groups
    "conv grouped": [(2 * width(s), 2 * width(s), (3, 3), 1, 2 * width(s) // g, s)
                     for s in (7, 14, 28, 56) for g in (8, 32)],
    # the first conv on the image: few input channels, which the libraries run apart
    "conv stem": [(3, 32, (3, 3), 2, 1, 224), (3, 32, (3, 3), 2, 1, 320),
                  (3, 64, (7, 7), 2, 1, 224), (3, 64, (3, 3), 1, 1, 112)],
}
# The shapes the speed probe runs (incprof.nn.probe): the dense classes' grid without its
# smallest maps
PROBE_CLASSES = ("conv 1x1", "conv nxn", "conv 1xn", "conv stem")
PROBE_SHAPES = [shape for op in PROBE_CLASSES for shape in CONV_SHAPES[op]
                if shape[5] not in SMALL_SIDES]
# (rows, in features, out features): one image (a matrix-vector product, up to 64 MB of weights,
# past the caches), a batch of 64, and 256 rows (a transformer's tokens: ViT-B's 197-token GEMMs
# ran at 43-47 GMAC/s alone and repeated here, above the 35-39 that calibrations gave the 64-row
# ones, the nearest shapes before)
LINEAR_SHAPES = [(1, 512, 1000), (1, 1024, 1000), (1, 2048, 1000), (1, 8192, 2048),
                 (64, 1024, 1000), (64, 2048, 1000), (256, 1024, 1024)]
# (kind, channels, input side, kernel, stride) per pool class: 3x3 max pools of stride 2 and 1,
# 3x3 average pools, a 7x7 average over the final map, global averages (the grid's width and 4x
# it: a classifier's head is small, and a call's fixed cost weighs on a small one), adaptive
# averages.
POOL_SHAPES = {
    "pool max": [("max", width(s) * m, s, 3, 2) for s in (14, 28, 56, 112) for m in (1, 4)]
    + [("max", width(s) * m, s, 3, 1) for s in (7, 14, 28) for m in (1, 4)],
    "pool avg": [("avg", width(s) * m, s, 3, 1) for s in (10, 20, 40) for m in (1, 4)]
    + [("avg", 1024, 7, 7, 1)],
    "pool global": [("global", width(s) * m, s, 0, 1) for s in (7, 10, 14) for m in (1, 4)],
    # adaptive averages to a small map (the kernel field is the output side): windows of one
    # position up to a few, overlapping where the sides do not divide
    "pool adaptive": [("adaptive", width(s) // m, s, out, 1) for s in (7, 14) for m in (1, 4)
                      for out in (7, 5, 3)],
}
# (channels, side): one pass of BatchNorm (eval), of an in-place ReLU and of a local response
# norm, small maps to large (from 12,544 values: a BatchNorm's call costs as much as its work there)
# torch's default window: LocalResponseNorm(5), as in AlexNet and GoogLeNet
LRN_SIZE = 5
ELEMENTWISE_SHAPES = [(width(7) // 2, 7), (4 * width(7), 7), (width(14), 14), (width(28), 28),
                      (width(56), 56), (width(112), 112)]
COPY_BYTES = [2**16, 2**18, 2**20, 2**21, 2**22, 2**23, 2**24, 2**26]
# the batch convolutions are calibrated and probed at: one image on the CPU; on CUDA a batch that
# fills the device, which one image cannot
CALIBRATION_BATCH = {"cpu": 1, "cuda": 32}
