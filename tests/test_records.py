"""Plain records and the DataFrame built from them: the CLI renders records, the Python API
returns DataFrames, and every output is the same from either."""

import pandas as pd
import pytest

from incprof.analysis.profile import COLUMNS, INT_COLUMNS, profile, profile_records
from incprof.records import Records, as_records, plain, to_frame
from incprof.render.profile import to_csv, to_json, to_markdown, to_text
from incprof.spec.registry import available


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


def _pairs():
    """(name, records, DataFrame, renderers) for every command's records function beside the
    Python API's DataFrame of it."""
    from incprof.analysis import compare
    from incprof.analysis import lab
    from incprof.analysis import sweep
    from incprof.render.grid import frame_csv, grid_text, json_text, rows_payload
    from incprof.render.compare import comparison_csv, comparison_grid, comparison_payload, sweep_grid
    from incprof.spec.registry import resolve

    naive, reduced = compare.resolve_side("naive"), compare.resolve_side("reduced")
    v3 = resolve("inception_v3")
    compared = [lambda df: comparison_csv([df]), lambda df: json_text(comparison_payload([df])),
                lambda df: grid_text(comparison_grid(df)),
                lambda df: grid_text(comparison_grid(df, exact=True, compact=True))]
    rows = [frame_csv, lambda df: json_text(rows_payload(df))]
    yield ("compare modules", compare.compare_modules_records(naive, reduced, batch_size=2),
           compare.compare_modules(naive, reduced, batch_size=2), compared)
    yield ("compare networks", compare.compare_networks_records(resolve("googlenet"), v3),
           compare.compare_networks(resolve("googlenet"), v3), compared)
    yield ("diff", compare.diff_records(naive, reduced), compare.diff_networks(naive, reduced),
           compared)
    yield ("factorize", lab.factorization_records(32, 9, cout=48),
           lab.factorization_table(32, 9, cout=48), rows)
    yield ("grid", lab.grid_records(10, 8, 1), lab.grid_table(10, 8, 1), rows)
    yield ("sweep", sweep.sweep_records(v3, [1, 79, 151, 299], "fp16"),
           sweep.sweep(v3, [1, 79, 151, 299], "fp16"),
           [*rows, lambda df: grid_text(sweep_grid(df))])
    yield ("lowres", sweep.lowres_records(v3), sweep.lowres_experiment(v3), rows)


def test_every_records_function_is_its_dataframe():
    """compare, diff, factorize, sweep: the CLI's records and the API's DataFrame hold the same
    rows, columns and attrs, and render to the same bytes; counts are nullable Int64."""
    for name, records, df, renderers in _pairs():
        assert isinstance(records, Records) and type(df) is pd.DataFrame, name
        assert list(df.columns) == records.columns and df.attrs == records.attrs, name
        assert as_records(df).rows == records.rows, name
        assert all(str(df[c].dtype) == "Int64" for c in records.int_columns), name
        assert all(type(v) in (int, float, str, bool, type(None)) for row in records.rows
                   for v in row.values()), name
        for render in renderers:
            assert render(records) == render(df), name
