"""The referee in training mode: FlopCounterMode's total for one training step (forward with the
aux heads, and one loss.backward()), predicted from incprof's per-row training counts
(incprof.count.training) under its conventions, and run on the built network (meta tensors).

FlopCounterMode's conventions for a step: 2 FLOPs per conv or matmul MAC, forward and backward;
a grouped conv's weight gradient at groups x its MACs (its formula takes every input channel);
nothing else (norms, pools, activations, bias gradients). fvcore, ptflops, thop and torchinfo
count forward passes only (their hooks or traces see no backward), so none is refereed here."""

from __future__ import annotations

from ..analysis.training import conventions, training_records

FORWARD_ONLY = ("fvcore", "ptflops_aten", "ptflops_pytorch", "thop", "torchinfo")


def referee_training(arch=None, *, flavor: str = "paper", aux: bool = True, input_size=None,
                     batch_size: int = 2, frozen: frozenset[str] = frozenset(), model=None,
                     label: str | None = None, channels: int = 3) -> dict:
    """FlopCounterMode's training-step FLOPs, reported and predicted, with the residual and the
    rows it comes from (where a row's count differs); of a spec, or of an nn.Module ``model``
    (its rows the top-level modules)."""
    import torch

    if model is not None:
        from ..analysis.model_training import model_training_records

        records = model_training_records(model, input_size, channels=channels,
                                         batch_size=batch_size, label=label)
        meta = {**records.attrs["meta"], "title": records.attrs["meta"]["model"],
                "flavor": None}
    else:
        records = training_records(arch, flavor=flavor, aux=aux, input_size=input_size,
                                   batch_size=batch_size, frozen=frozen, verify=True)
        meta = {**records.attrs["meta"],
                "conventions": conventions(batch_size, None, True, False)}
    t = records.attrs["totals"]
    predicted = 2 * t["flop_counter_expected"]
    reported = t["flop_counter_flops"]
    differing = {r["row"]: 2 * (r["check_forward_macs"] + r["check_input_grad_macs"]
                                + r["check_weight_grad_macs"]) - 2 * r["step_macs"]
                 for r in records.rows if not r["check_agrees"]}
    return {
        "meta": meta,
        "tools": [{"tool": "flop_counter", "version": torch.__version__, "unit": "FLOPs",
                   "reported": reported, "predicted": predicted,
                   "residual": reported - predicted, "residual_from": differing}],
        "forward_only": list(FORWARD_ONLY),
        "predicted_from": {"step_macs": t["step_macs"],
                           "grouped_excess_macs": t["flop_counter_expected"] - t["step_macs"]}}
