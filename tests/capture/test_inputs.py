"""Example inputs of any signature: the --input grammar, --inputs factories, outputs of any
structure, and Hugging Face models' default inputs; counts worked out by hand."""

import csv
import io

import pytest

torch = pytest.importorskip("torch")

from conftest import MODELS, invoke  # noqa: E402
from incprof.capture import inputs  # noqa: E402
from incprof.errors import UsageError  # noqa: E402

TAGGER = f"{MODELS}:tagger"


def rows(result):
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


@pytest.mark.parametrize("text, name, shape, dtype", [
    ("1x128:int64", None, (1, 128), "int64"),
    ("attention_mask=1x128:long", "attention_mask", (1, 128), "int64"),
    ("2x3x8x8", None, (2, 3, 8, 8), "float32"),
    ("16000:fp16", None, (16000,), "float16"),
    ("mask = 4 x 5 : bool", "mask", (4, 5), "bool"),
])
def test_the_input_grammar(text, name, shape, dtype):
    assert inputs.parse_input(text) == inputs.InputSpec(name, shape, dtype)


@pytest.mark.parametrize("text, reason", [
    ("1x0", "every dimension must be 1 or more"),
    ("1xa", "expected SHAPE[:DTYPE]"),
    ("2mask=1x4", "must be a Python name"),
    ("1x4:int65", "unknown dtype 'int65'"),
    ("65536x65536", "more than the"),
])
def test_bad_inputs_are_one_line(text, reason):
    with pytest.raises(UsageError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        inputs.parse_input(text)
    result = invoke("table", "--model", TAGGER, "--input", text)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1, result.output


def test_zeros_are_valid_indices_and_keywords_go_by_name():
    example = inputs.zeros(inputs.parse_inputs(["2x6:int64", "mask=2x6"]))
    assert [t.dtype for t in example.args] == [torch.int64] and not example.args[0].any()
    assert list(example.kwargs) == ["mask"] and example.kwargs["mask"].shape == (2, 6)
    assert example.describe() == "2x6:int64, mask=2x6"
    with pytest.raises(UsageError, match="given twice"):
        inputs.parse_inputs(["a=1", "a=2"])


def tagger_macs(batch, tokens, width=8, tags=5):
    # the linear per token, then the mask multiplied in (one op per logit, not a MAC)
    return batch * tokens * width * tags


def test_token_ids_and_a_keyword_mask_from_the_cli():
    data = rows(invoke("table", "--model", TAGGER, "--input", "2x6:int64", "--input", "mask=2x6",
                       "-f", "csv"))
    by_row = {r["row"]: r for r in data}
    assert int(by_row["head"]["macs"]) == tagger_macs(2, 6)
    assert int(by_row["TOTAL"]["params"]) == 50 * 8 + 8 * 5 + 5
    text = invoke("table", "--model", TAGGER, "--input", "2x6:int64", "--input", "mask=2x6")
    assert "inputs 2x6:int64, mask=2x6, batch 2" in " ".join(text.stdout.split())


def test_a_factory_makes_any_inputs():
    data = rows(invoke("table", "--model", TAGGER, "--inputs", f"{MODELS}:tagger_inputs",
                       "-f", "csv"))
    assert int({r["row"]: r for r in data}["head"]["macs"]) == tagger_macs(2, 6)
    both = invoke("table", "--model", TAGGER, "--inputs", f"{MODELS}:tagger_inputs",
                  "--input", "1x3:int64")
    assert both.exit_code == 2 and "--input does not apply with --inputs" in both.stderr
    missing = invoke("table", "--model", TAGGER, "--inputs", f"{MODELS}:nothing")
    assert missing.exit_code == 2 and "has no callable 'nothing'" in missing.stderr


def test_outputs_of_any_structure_are_counted():
    # the Tagger returns a dataclass holding a dict: counted on meta tensors
    result = invoke("table", "--model", TAGGER, "--input", "1x3:int64")
    assert result.exit_code == 0, result.output
    assert "captured with one pass on meta tensors" in " ".join(result.stdout.split())


def test_the_image_default_stays():
    from conftest import user_models

    example = inputs.default(user_models().five_by_five(), (16, 20), 3, 2)
    assert example.describe() == "2x3x16x20" and example.args[0].dtype == torch.float32
    assert inputs.default(user_models().five_by_five()).shape() == (1, 3, 224, 224)
    refused = invoke("table", "--model", TAGGER, "--seq-len", "8")
    assert refused.exit_code == 2 and "--seq-len applies to Hugging Face" in refused.stderr


def test_the_python_api_takes_args_and_kwargs():
    import incprof
    from conftest import user_models

    df = incprof.profile(user_models().tagger(), args=(torch.zeros(2, 6, dtype=torch.int64),),
                         kwargs={"mask": torch.ones(2, 6)})
    assert int(df.set_index("row").loc["head", "macs"]) == tagger_macs(2, 6)
    assert df.attrs["meta"]["inputs"] == "2x6:int64, mask=2x6"


def test_a_made_up_example_is_timed_on_drawn_values_and_a_given_one_as_it_is():
    """Zeros make a data-dependent kernel fast (a max pool's comparisons all tie): what incprof
    made up is timed on standard normal floats, the same each time; ints stay valid ids."""
    import torch

    made = inputs.zeros(inputs.parse_inputs(["2x3", "ids=2x4:int64"]))
    timed, said = inputs.for_timing(made)
    expected = torch.randn((2, 3), generator=torch.Generator().manual_seed(0))
    assert torch.equal(timed.args[0], expected)
    assert torch.equal(timed.kwargs["ids"], torch.zeros(2, 4, dtype=torch.int64))
    assert said == "floating inputs standard normal (seed 0), integer and bool inputs zeros"
    assert torch.equal(made.args[0], torch.zeros(2, 3))  # the counted example is unchanged
    half = inputs.zeros(inputs.parse_inputs(["2x3:fp16", "2x3:bf16"]))
    timed, said = inputs.for_timing(half)
    assert [t.dtype for t in timed.args] == [torch.float16, torch.bfloat16]
    assert all(torch.equal(t, expected.to(t.dtype)) for t in timed.args[:1])  # drawn first
    assert said == "floating inputs standard normal (seed 0)"
    ids = inputs.zeros(inputs.parse_inputs(["2x3:int64"]))
    assert inputs.for_timing(ids)[1] == "integer and bool inputs zeros"
    given = inputs.Example((torch.ones(2, 3),), {}, "my.py:make")
    assert inputs.for_timing(given) == (given, "the given inputs' own values (my.py:make)")
