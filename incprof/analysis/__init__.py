"""Rows to findings: one spec's profile with the paper audit, comparisons, the factorization lab,
resolution sweeps, and the papers' claims checked."""
