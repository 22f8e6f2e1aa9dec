"""Rows as plain records: what every analysis returns and every renderer reads. ``to_frame`` is the
one door to pandas (for the Python API), and the one place pandas is imported."""

from __future__ import annotations

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

    def to_frame(self):
        """The records as a pandas DataFrame: integer columns as nullable Int64, ``attrs``
        carried."""
        import pandas as pd

        df = pd.DataFrame.from_records(self.rows, columns=self.columns)
        for column in self.int_columns:
            df[column] = df[column].astype("Int64")
        df.attrs.update(self.attrs)
        return df
