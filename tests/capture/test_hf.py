"""`--model hf:TYPE`: transformers models built offline from their default config, with tiny
configs; MACs worked out by hand per token (eager attention: its two matmuls per head are counted
as matmuls, S*S*head_dim each)."""

import csv
import io

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")  # the hf extra, installed by .ci/run

from conftest import invoke  # noqa: E402
from incprof.capture import inputs  # noqa: E402
from incprof.capture.models import parse_model_args, resolve_model  # noqa: E402

H, FF = 32, 64  # hidden width and feed-forward width of every tiny config here
BERT = ["--model-arg", "num_hidden_layers=1", "--model-arg", f"hidden_size={H}",
        "--model-arg", "num_attention_heads=2", "--model-arg", f"intermediate_size={FF}",
        "--model-arg", "vocab_size=100", "--model-arg", "attn_implementation=eager"]


def table(ref, *args):
    result = invoke("table", "--model", ref, *args, "-f", "csv")
    assert result.exit_code == 0, result.output
    data = list(csv.DictReader(io.StringIO(result.stdout)))
    assert all(r["flop_counter_macs"] == r["macs"] for r in data), data  # FlopCounterMode agrees
    return {r["row"]: r for r in data}


def attention(queries, keys, width):
    """Q @ K^T and weights @ V, over every head: queries * keys * width each."""
    return 2 * queries * keys * width


def test_bert_an_encoder():
    s = 16
    data = table("hf:bert", *BERT, "--seq-len", str(s))
    # per token Q, K, V, output projections and the two feed-forward linears; the pooler on one token
    macs = s * (4 * H * H + 2 * H * FF) + attention(s, s, H) + H * H
    assert int(data["TOTAL"]["macs"]) == macs
    model = resolve_model("hf:bert", {"num_hidden_layers": 1, "hidden_size": H,
                                      "num_attention_heads": 2, "intermediate_size": FF,
                                      "vocab_size": 100})
    assert int(data["TOTAL"]["params"]) == sum(p.numel() for p in model.parameters())


def test_gpt2_a_decoder_with_keyword_inputs():
    s = 8
    data = table("hf:gpt2", "--model-arg", "n_layer=1", "--model-arg", f"n_embd={H}",
                 "--model-arg", "n_head=2", "--model-arg", "vocab_size=100",
                 "--model-arg", "attn_implementation=eager",
                 "--input", f"input_ids=2x{s}:int64", "--input", f"attention_mask=2x{s}:int64")
    # QKV (3 H*H), output projection, and an MLP 4x wide (two H*4H linears), per token
    per_token = 3 * H * H + H * H + 2 * H * 4 * H
    assert int(data["TOTAL"]["macs"]) == 2 * (s * per_token + attention(s, s, H))


def test_t5_an_encoder_decoder_runs_its_decoder_on_as_many_tokens():
    s = 8
    data = table("hf:t5", "--model-arg", "num_layers=1", "--model-arg", f"d_model={H}",
                 "--model-arg", f"d_ff={FF}", "--model-arg", "num_heads=2", "--model-arg", "d_kv=16",
                 "--model-arg", "vocab_size=100", "--model-arg", "attn_implementation=eager",
                 "--seq-len", str(s))
    inner = 2 * 16  # heads * d_kv
    encoder = s * (4 * H * inner + 2 * H * FF) + attention(s, s, inner)
    # self-attention, cross-attention (queries and output from the decoder's tokens, keys and values
    # from the encoder's), feed-forward
    decoder = (s * (4 * H * inner) + s * 2 * H * inner + s * 2 * H * inner + s * 2 * H * FF
               + attention(s, s, inner) + attention(s, s, inner))
    assert (int(data["encoder"]["macs"]), int(data["decoder"]["macs"])) == (encoder, decoder)


def test_vit_a_vision_transformer_takes_its_config_image():
    data = table("hf:vit", "--model-arg", "num_hidden_layers=1", "--model-arg", f"hidden_size={H}",
                 "--model-arg", "num_attention_heads=2", "--model-arg", f"intermediate_size={FF}",
                 "--model-arg", "image_size=32", "--model-arg", "patch_size=16",
                 "--model-arg", "attn_implementation=eager")
    tokens = (32 // 16) ** 2 + 1  # four patches and the class token
    patches = 16 * 16 * 3 * H * 4
    macs = patches + tokens * (4 * H * H + 2 * H * FF) + attention(tokens, tokens, H) + H * H
    assert int(data["TOTAL"]["macs"]) == macs


def test_default_inputs_come_from_the_config():
    bert = transformers.BertModel(transformers.BertConfig(num_hidden_layers=1, hidden_size=H,
                                                          num_attention_heads=2, vocab_size=10))
    assert inputs.default(bert).describe() == f"input_ids=1x{inputs.DEFAULT_SEQ_LEN}:int64"
    assert inputs.default(bert, seq_len=7, batch_size=3).describe() == "input_ids=3x7:int64"
    vit = transformers.ViTModel(transformers.ViTConfig(num_hidden_layers=1, hidden_size=H,
                                                       num_attention_heads=2, image_size=48))
    assert inputs.default(vit).describe() == "pixel_values=1x3x48x48"
    assert inputs.default(vit, 64).describe() == "pixel_values=1x3x64x64"


@pytest.mark.parametrize("args, reason", [
    (["--model", "hf:no_such_type"], "transformers has no model type 'no_such_type'"),
    (["--model", "hf:bert", "--model-arg", "no_field=1"], "BertConfig has no such field"),
    (["--model", "hf:bert", "--input-size", "8"], "use --seq-len"),
    # the model's constructor rejects the config: 30 is no multiple of BERT's 12 heads
    (["--model", "hf:bert", "--model-arg", "hidden_size=30"], "model 'hf:bert': the model refused "
     "its config: ValueError: The hidden size (30) is not a multiple"),
    # Marian's default pad token id (58100) is past a 1,000-word vocabulary
    (["--model", "hf:marian", "--model-arg", "vocab_size=1000"], "model 'hf:marian': the model "
     "refused its config: AssertionError: Padding_idx"),
    # the config's validation says what is wrong, not only which field
    (["--model", "hf:bert", "--model-arg", "num_hidden_layers=abc"],
     "Validation error for field 'num_hidden_layers': TypeError: Field 'num_hidden_layers' "
     "expected int, got str"),
])
def test_hf_errors_are_one_line(args, reason):
    result = invoke("table", *args)
    assert result.exit_code == 2 and reason in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_sweep_sequence_lengths():
    result = invoke("sweep", "--model", "hf:bert", *BERT, "--seq-lens", "8,16", "-f", "csv")
    assert result.exit_code == 0, result.output
    data = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["input"] for r in data] == ["input_ids=1x8:int64", "input_ids=1x16:int64"]
    for s, r in zip((8, 16), data):
        assert int(r["macs"]) == s * (4 * H * H + 2 * H * FF) + attention(s, s, H) + H * H


def test_list_fields_are_json():
    from incprof.capture.models import parse_model_args

    assert parse_model_args(["depths=[1, 2]", "name=[x"]) == {"depths": [1, 2], "name": "[x"}


def test_a_config_too_large_for_memory_is_refused_before_it_is_built(monkeypatch):
    import incprof.count.limits as limits

    monkeypatch.setattr(limits, "available_bytes", lambda: 1000)
    result = invoke("table", "--model", "hf:bert", *BERT)
    assert result.exit_code == 2 and "do not fit in half the memory left" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_sequence_longer_than_the_positions_is_one_line_or_one_sweep_row():
    short = [*BERT, "--model-arg", "max_position_embeddings=16"]
    result = invoke("table", "--model", "hf:bert", *short, "--seq-len", "17")
    assert result.exit_code == 2 and "longer than the 16 positions" in result.stderr
    swept = invoke("sweep", "--model", "hf:bert", *short, "--seq-lens", "16,17", "-f", "csv")
    data = list(csv.DictReader(io.StringIO(swept.stdout)))
    assert [(r["input"], r["valid"]) for r in data] == [("input_ids=1x16:int64", "True"),
                                                          ("17 tokens", "False")]


def test_bert_training_step_is_what_flop_counter_mode_counts_on_a_real_backward():
    from torch.utils.flop_counter import FlopCounterMode

    from incprof.analysis.model_training import model_training_records

    from incprof.capture.models import parse_model_args

    model = resolve_model("hf:bert", parse_model_args(BERT[1::2]))
    example = inputs.default(model, seq_len=8, batch_size=2)
    records = model_training_records(model, example=example)
    with FlopCounterMode(display=False) as counter:
        out = example.run(model.train())
        sum(t.sum() for t in out.to_tuple()).backward()  # the loss: the sum of every output
    assert 2 * records.attrs["totals"]["step_macs"] == counter.get_total_flops()
    assert records.attrs["meta"]["input"] == "input_ids=2x8:int64"


def test_a_model_to_be_timed_is_built_with_drawn_weights():
    """Counting builds a library's model without drawing its weights; a timed one draws them as
    the library does with torch's generator seeded 0 (a build of transformers' own is the
    reference), and leaves the caller's generator alone: zero weights, or pages never written,
    would time kernels on data they never meet."""
    fields = parse_model_args(BERT[1::2])
    config = transformers.AutoConfig.for_model("bert", **{
        k: v for k, v in fields.items() if k != "attn_implementation"})
    torch.manual_seed(0)
    expected = dict(transformers.AutoModel.from_config(config).named_parameters())
    torch.manual_seed(1)
    state = torch.get_rng_state()
    timed = dict(resolve_model("hf:bert", fields, draw_weights=True).named_parameters())
    assert torch.equal(torch.get_rng_state(), state)
    assert timed.keys() == expected.keys()
    assert all(torch.equal(timed[name], expected[name]) for name in expected)
    counted = resolve_model("hf:bert", fields)
    assert not torch.equal(counted.pooler.dense.weight, expected["pooler.dense.weight"])


def test_table_latency_times_a_model_built_with_drawn_weights(monkeypatch):
    from incprof.capture import models

    drawn = []
    resolve = models.resolve_model
    monkeypatch.setattr(models, "resolve_model", lambda ref, kwargs=None, *, draw_weights=False: (
        drawn.append(draw_weights), resolve(ref, kwargs, draw_weights=draw_weights))[1])
    for extra in ([], ["--latency", "--device", "cpu", "--warmup", "1", "--repeats", "2"]):
        table("hf:bert", *BERT, "--seq-len", "8", *extra)
    assert drawn == [False, True]
    result = invoke("table", "--model", "hf:bert", *BERT, "--seq-len", "8", "--latency",
                    "--device", "cpu", "--warmup", "1", "--repeats", "2")
    assert ("weights drawn as transformers initialises them (seed 0), integer and bool inputs "
            "zeros" in " ".join(result.stdout.split()))
    quick = ["--device", "cpu", "--warmup", "1", "--repeats", "2", "--seq-len", "8"]
    assert invoke("bench", "--model", "hf:bert", *BERT, "--batch-sizes", "1", *quick).exit_code == 0
    assert invoke("sweep", "--model", "hf:bert", *BERT, "--seq-lens", "8", "--latency",
                  *quick[:-2]).exit_code == 0
    assert invoke("sweep", "--model", "hf:bert", *BERT, "--seq-lens", "8").exit_code == 0
    assert drawn == [False, True, True, True, True, False]  # bench and sweep --latency draw
