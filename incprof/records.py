"""Rows as plain records, the form the CLI renders from; the one place they become a pandas
DataFrame for the Python API (pandas is imported only there)."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field


@dataclass
class Records:
    """Rows as dicts of plain values (int, float, str, bool or None), in ``columns`` order, with
    ``attrs`` as a DataFrame's (``meta``, ``totals``); ``int_columns`` become nullable integers in
    the DataFrame."""

    columns: list[str]
    rows: list[dict]
    attrs: dict = field(default_factory=dict)
    int_columns: tuple[str, ...] = ()


def to_frame(records: Records):
    """The records as a pandas DataFrame: integer columns as nullable Int64, ``attrs`` carried."""
    import pandas as pd

    df = pd.DataFrame.from_records(records.rows, columns=records.columns)
    for column in records.int_columns:
        df[column] = df[column].astype("Int64")
    df.attrs.update(records.attrs)
    return df


def plain(value):
    """A cell as a plain Python value: numpy scalars unwrapped, NaN and pandas' NA as None."""
    na = getattr(sys.modules.get("pandas"), "NA", None)  # no DataFrame, no pd.NA
    if value is None or (na is not None and value is na) or (
            isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def as_records(data) -> Records:
    """``data`` as Records: Records pass through; a DataFrame's rows become plain dicts."""
    if isinstance(data, Records):
        return data
    rows = [{k: plain(v) for k, v in row.items()} for row in data.to_dict(orient="records")]
    ints = tuple(c for c, dtype in data.dtypes.items() if str(dtype) == "Int64")
    return Records(list(data.columns), rows, data.attrs, ints)
