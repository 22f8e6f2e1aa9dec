"""incprof: the Inception family taken apart, row by row, with exact counts.

``incprof.profile("googlenet")`` returns a pandas DataFrame (imported lazily, so importing incprof
stays cheap): the Python API's one switch to pandas. Every analysis beneath it returns Records, and
``Records.to_frame()`` turns any of them into a DataFrame.
"""

__version__ = "0.1.0"


def profile(arch="googlenet", *, input_size=None, batch_size: int = 1, channels: int = 3,
            module_depth: int = 1, mode: str = "inference", args=None, kwargs=None,
            **options):
    """A profile as a pandas DataFrame (integer columns as nullable Int64, totals and meta in
    ``df.attrs``): incprof.analysis.profile.profile_records' rows, with its options.

    ``arch`` may also be an ``nn.Module``: then the rows are incprof.capture.rows.
    profile_model_records' (one per module at ``module_depth``, on a ``channels`` x ``input_size``
    input, default 224x224, or a Hugging Face model's inputs from its config), or on the example
    ``args`` (a tuple) and ``kwargs`` (a dict) when either is given; the other options do not
    apply.

    ``mode="train"``: one training step instead, row by row (incprof.analysis.training.
    training_records, with its options: ``optimizer=``, ``frozen=``, ``verify=``, ``measure=``;
    for an ``nn.Module``, incprof.analysis.model_training.model_training_records, on the same
    example inputs as inference).
    """
    if mode not in ("inference", "train"):
        raise ValueError(f"mode must be inference or train, not {mode!r}")
    example = None
    if args is not None or kwargs is not None:
        from .capture.inputs import Example

        example = Example(tuple(args or ()), dict(kwargs or {}), "args")
    if mode == "train":
        if hasattr(arch, "named_modules"):
            from .analysis.model_training import model_training_records

            return model_training_records(arch, input_size, channels=channels, depth=module_depth,
                                          batch_size=batch_size, example=example).to_frame()
        from .analysis.training import training_records

        return training_records(arch, input_size=input_size, batch_size=batch_size,
                                **options).to_frame()
    if hasattr(arch, "named_modules"):
        from .capture.rows import profile_model_records

        return profile_model_records(arch, input_size, channels=channels, depth=module_depth,
                                     batch_size=batch_size, example=example).to_frame()
    from .analysis.profile import profile_records

    return profile_records(arch, input_size=input_size, batch_size=batch_size, **options).to_frame()
