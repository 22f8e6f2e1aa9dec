"""A spec to numbers: params, MACs and other ops per row, receptive fields and live memory, the
ceilings checked before anything is built, and the spec's op inventory. No torch."""
