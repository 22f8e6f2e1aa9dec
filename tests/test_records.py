"""Plain records and the DataFrame built from them: the CLI renders records, the Python API
returns DataFrames, and every output is the same from either."""

import pandas as pd
import pytest

from incprof.profiler import COLUMNS, INT_COLUMNS, profile, profile_records
from incprof.records import Records, as_records, plain, to_frame
from incprof.render_profile import to_csv, to_json, to_markdown, to_text
from incprof.spec import available


def test_plain_unwraps_numpy_and_missing_values():
    assert plain(pd.NA) is None and plain(float("nan")) is None and plain(None) is None
    value = pd.Series([7], dtype="Int64").iloc[0]
    assert plain(value) == 7 and type(plain(value)) is int
    assert plain(pd.Series([True]).iloc[0]) is True and plain("x") == "x"


def test_to_frame_keeps_order_integers_and_attrs():
    records = Records(["a", "b"], [{"a": 1, "b": None}, {"a": None, "b": 2.5}],
                      {"meta": {"m": 1}}, ("a",))
    df = to_frame(records)
    assert list(df.columns) == ["a", "b"] and str(df["a"].dtype) == "Int64"
    assert df.attrs["meta"] == {"m": 1}
    back = as_records(df)
    assert back.rows == records.rows and back.int_columns == ("a",)


@pytest.mark.parametrize("arch", available())
def test_records_and_dataframe_render_the_same_bytes(arch):
    """The CLI's path (records) and the API's (DataFrame) give identical outputs in every format."""
    records = profile_records(arch, batch_size=2)
    df = profile(arch, batch_size=2)
    assert list(df.columns) == COLUMNS and records.columns == COLUMNS
    assert all(str(df[c].dtype) == "Int64" for c in INT_COLUMNS)
    assert as_records(df).rows == records.rows and df.attrs == records.attrs
    for write in (to_csv, to_json, to_markdown, to_text):
        assert write(records) == write(df), (arch, write.__name__)
    assert to_text(records, columns=("all",), wide=True) == to_text(df, columns=("all",), wide=True)
