"""Records, what every analysis returns: rows of plain values, and ``to_frame``, the one door to
pandas (for the Python API)."""

import pandas as pd
import pytest

from incprof.analysis.profile import COLUMNS, INT_COLUMNS, profile_records
from incprof.records import Records
from incprof.spec.registry import available

PLAIN = (int, float, str, bool, type(None))


def _rows(df: pd.DataFrame) -> list[dict]:
    """A DataFrame's rows as dicts, missing values (NaN, pd.NA) as None."""
    return df.astype(object).where(df.notna(), None).to_dict(orient="records")


def test_to_frame_keeps_order_integers_and_attrs():
    records = Records(["a", "b"], [{"a": 1, "b": None}, {"a": None, "b": 2.5}],
                      {"meta": {"m": 1}}, ("a",))
    df = records.to_frame()
    assert list(df.columns) == ["a", "b"] and str(df["a"].dtype) == "Int64"
    assert df.loc[0, "a"] == 1 and df.loc[1, "a"] is pd.NA
    assert pd.isna(df.loc[0, "b"]) and df.loc[1, "b"] == 2.5
    assert df.attrs["meta"] == {"m": 1}
    assert _rows(df) == records.rows


@pytest.mark.parametrize("arch", available())
def test_a_profile_is_plain_records_and_its_frame_holds_them(arch):
    records = profile_records(arch, batch_size=2)
    assert records.columns == COLUMNS and all(list(row) == COLUMNS for row in records.rows)
    assert all(type(v) in PLAIN for row in records.rows for v in row.values())
    df = records.to_frame()
    assert list(df.columns) == COLUMNS and df.attrs == records.attrs
    assert all(str(df[c].dtype) == "Int64" for c in INT_COLUMNS)
    assert _rows(df) == records.rows


def _analyses():
    """(name, Records) for every analysis beside the profile that counts from specs alone."""
    from incprof.analysis import compare, lab, sweep
    from incprof.spec.registry import resolve

    naive, reduced = compare.resolve_side("naive"), compare.resolve_side("reduced")
    v3 = resolve("inception_v3")
    yield "compare modules", compare.compare_modules_records(naive, reduced, batch_size=2)
    yield "compare networks", compare.compare_networks_records(resolve("googlenet"), v3)
    yield "diff", compare.diff_records(naive, reduced)
    yield "factorize", lab.factorization_records(32, 9, cout=48)
    yield "grid", lab.grid_records(10, 8, 1)
    yield "sweep", sweep.sweep_records(v3, [1, 79, 151, 299], "fp16")
    yield "lowres", sweep.lowres_records(v3)


def test_every_analysis_returns_plain_records_and_its_frame_holds_them():
    """compare, diff, factorize, sweep: Records of plain values, in column order; the DataFrame
    holds the same rows, columns and attrs, counts as nullable Int64."""
    for name, records in _analyses():
        assert isinstance(records, Records), name
        assert all(list(row) == records.columns for row in records.rows), name
        assert all(type(v) in PLAIN for row in records.rows for v in row.values()), name
        df = records.to_frame()
        assert type(df) is pd.DataFrame and list(df.columns) == records.columns, name
        assert df.attrs == records.attrs and _rows(df) == records.rows, name
        assert all(str(df[c].dtype) == "Int64" for c in records.int_columns), name
