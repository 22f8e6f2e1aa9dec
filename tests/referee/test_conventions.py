"""The referee on transformer and sequence layers (incprof.referee.conventions): every peer's
total and parameter total predicted to the unit for LayerNorm, GroupNorm, BatchNorm1d and RMSNorm
(affine or not), the activations, nn.MultiheadAttention with and without its weights, LSTM/GRU/RNN
in every layout, and attention; and a peer that raises gets its own row while the others run.
The peers are the oracles, as in tests/referee/test_referee.py."""

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from incprof.cli.app import app  # noqa: E402
from incprof.referee import conventions as ref  # noqa: E402
from incprof.referee import peers  # noqa: E402
from incprof.referee.referee import referee  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


class Tokens(nn.Module):
    """``body`` on the 3x8x8 input read as 16 tokens of 12 (batch first)."""

    def __init__(self, body) -> None:
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x.reshape(x.shape[0], 16, 12))


class Attend(nn.Module):
    def __init__(self, need_weights: bool) -> None:
        super().__init__()
        self.attn, self.need_weights = nn.MultiheadAttention(12, 2, batch_first=True), need_weights

    def forward(self, x):
        return self.attn(x, x, x, need_weights=self.need_weights)[0]


class Recurrent(nn.Module):
    """An LSTM (time first, 2 layers, bidirectional), a GRU (batch first, no bias,
    bidirectional, 2 layers) and a ReLU RNN."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(12, 16, num_layers=2, bidirectional=True)
        self.gru = nn.GRU(32, 8, num_layers=2, bias=False, batch_first=True, bidirectional=True)
        self.rnn = nn.RNN(16, 4, nonlinearity="relu")

    def forward(self, x):
        x = self.lstm(x.transpose(0, 1))[0].transpose(0, 1)
        return self.rnn(self.gru(x)[0])[0]


class SelfAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(12, 36)

    def forward(self, x):
        q, k, v = self.qkv(x).view(x.shape[0], 16, 3, 2, 6).permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


class Unbatched(nn.Module):
    """An LSTM and a 2-layer GRU on one unbatched sequence: the 3x8x8 input as (16*N, 12)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm, self.gru = nn.LSTM(12, 16), nn.GRU(16, 4, num_layers=2)

    def forward(self, x):
        return self.gru(self.lstm(x.reshape(-1, 12))[0])[0]


class Conv1D(nn.Module):
    """Hugging Face GPT-2's Conv1D: a linear layer as torch.addmm, weight stored (in, out)."""

    def __init__(self, nx: int, nf: int) -> None:
        super().__init__()
        self.weight, self.bias = nn.Parameter(torch.randn(nx, nf)), nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        out = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight)
        return out.view(*x.shape[:-1], -1)


MODELS = {
    "norms": lambda: nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.GroupNorm(2, 8), nn.Flatten(2), nn.LayerNorm(36), nn.RMSNorm(36),
        nn.Flatten(), nn.BatchNorm1d(288), nn.Linear(288, 4)),
    "norms, not affine": lambda: nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.GroupNorm(2, 8, affine=False), nn.Flatten(2),
        nn.LayerNorm(36, elementwise_affine=False), nn.RMSNorm(36, elementwise_affine=False)),
    "activations": lambda: nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ReLU6(), nn.GELU(), nn.SiLU(), nn.Hardswish(), nn.Hardsigmoid(),
        nn.LeakyReLU(), nn.ELU(), nn.Sigmoid(), nn.Tanh(), nn.PReLU(), nn.Mish(), nn.Softplus(),
        nn.ReLU()),
    "multihead attention, weights": lambda: Tokens(Attend(True)),
    "multihead attention, no weights": lambda: Tokens(Attend(False)),
    "lstm, gru, rnn": lambda: Tokens(Recurrent()),
    "lstm with projections": lambda: Tokens(nn.LSTM(12, 16, num_layers=2, proj_size=4,
                                                    batch_first=True)),
    "attention": lambda: Tokens(SelfAttention()),
    # per-module hooks keep a TransformerEncoderLayer off its fused path, global ones do not
    "transformer encoder": lambda: Tokens(nn.TransformerEncoder(
        nn.TransformerEncoderLayer(12, 2, 24, batch_first=True), 2, enable_nested_tensor=False)),
    "addmm conv1d": lambda: Tokens(nn.Sequential(Conv1D(12, 20), nn.GELU(), Conv1D(20, 12))),
    # unbatched (steps, features): thop and ptflops read the features as the batch
    "unbatched recurrent": lambda: Unbatched(),
}


@pytest.mark.peers
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("name", MODELS)
def test_every_peer_predicted_on_sequence_layers(name, batch):
    torch.manual_seed(0)
    result = referee(model=MODELS[name](), label=name, input_size=8, batch_size=batch)
    for t in result["tools"]:
        assert t["installed"] and not t["failed"], t
        assert t["residual"] == 0, (t["tool"], t["reported"], t["predicted"], t["residual_from"])
        assert t["params_residual"] in (0, None), t


def test_recurrent_formulas_by_hand():
    """thop's and ptflops' own formulas for one LSTM call (12 in, 16 hidden, 1 layer, bias, 16
    steps, batch 2), worked out from their source (thop/rnn_hooks.py _count_lstm_cell;
    ptflops/pytorch_ops.py rnn_flops): thop 4 * (H*(I+H) + H + 2H) + 4H per step, ptflops
    4H*I + 4H*H + 10H + 8H."""
    from incprof.capture.inventory import model_ops

    model = Tokens(nn.LSTM(12, 16, batch_first=True))
    (lstm,) = [op for op in model_ops(model, torch.zeros(2, 3, 8, 8)).calls if op.kind == "lstm"]
    assert lstm.detail == (12, 16, 1, False, True, 0, 16, 2)
    h, i = 16, 12
    assert ref.evaluate("thop_rnn", lstm, 2) == 16 * 2 * (4 * (h * (i + h) + h + 2 * h) + 4 * h)
    assert ref.evaluate("ptflops_rnn", lstm, 2) == 16 * 2 * (4 * h * i + 4 * h * h + 10 * h
                                                             + 8 * h)


@pytest.mark.peers
def test_a_peer_that_raises_gets_its_own_row_and_the_exit_code_says_so(monkeypatch):
    def broken(model, x):
        raise RuntimeError("no rule for this layer\nsecond line")

    monkeypatch.setitem(peers._RUNNERS, "torchinfo", broken)
    rows = {t["tool"]: t for t in referee(model=MODELS["norms"](), input_size=8)["tools"]}
    assert rows["torchinfo"]["failed"] == "RuntimeError: no rule for this layer"
    assert rows["torchinfo"]["reported"] is None
    assert all(t["residual"] == 0 for name, t in rows.items() if name != "torchinfo")
    result = CliRunner().invoke(app, ["referee", "--model", "tests/data/user_models.py:functional",
                                      "--input-size", "16"], env={"COLUMNS": "200"})
    assert result.exit_code == 3, result.output
    assert "failed: RuntimeError: no rule for this layer" in result.stdout
    assert "Failed on this model (the peer raised; the others ran): torchinfo." in \
        " ".join(result.stdout.split())


class Shared(nn.Module):
    """timm CoaT's pattern: a conv registered at the top and in each of two blocks, called once
    per block: three paths in the module tree."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 1)
        self.cpe = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.blocks = nn.ModuleList(nn.Sequential(self.cpe, nn.Conv2d(4, 4, 1))
                                    for _ in range(2))

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return x


@pytest.mark.peers
def test_a_shared_module_is_counted_as_each_peer_walks_the_tree():
    """thop counts a module with three paths nine times (hooked once per path, summed once per
    path), ptflops three times; their totals are still predicted to the unit."""
    from incprof.capture.inventory import model_ops

    model = Shared().eval()
    (cpe, *_) = [op for op in model_ops(model, torch.zeros(1, 3, 8, 8)).calls
                 if op.kind == "conv" and op.params == 40]
    assert cpe.copies == 3
    rows = {t["tool"]: t for t in referee(model=model, input_size=8)["tools"]}
    cpe_macs = 2 * 4 * 9 * 64  # two calls of the depthwise 3x3 on 8x8
    assert ref.predict([cpe], "thop", 1) == {"conv": 9 * cpe_macs // 2}
    for tool in ("thop", "ptflops_pytorch", "fvcore", "flop_counter", "ptflops_aten"):
        assert rows[tool]["residual"] == 0, rows[tool]
        assert rows[tool]["params_residual"] in (0, None), rows[tool]


@pytest.mark.peers
def test_torchinfo_and_ptflops_price_an_addmm_layer_by_their_own_rules():
    """A Conv1D (torch.addmm, 12 -> 20) on 2 x 16 tokens: torchinfo's rule for a class named
    Conv* is each weight or bias parameter times the output's size without its second dimension
    (2 x 20), ptflops patches torch.addmm and prices it M*K*N plus the bias's own elements."""
    model = Tokens(Conv1D(12, 20))
    rows = {t["tool"]: t for t in referee(model=model, input_size=8, batch_size=2)["tools"]}
    assert rows["torchinfo"]["reported"] == (12 * 20 + 20) * (2 * 20)
    assert rows["ptflops_pytorch"]["reported"] == 2 * 16 * 12 * 20 + 20
    assert rows["torchinfo"]["residual"] == rows["ptflops_pytorch"]["residual"] == 0


@pytest.mark.peers
def test_a_residual_names_the_module_hook_it_comes_from():
    """ptflops hooks nn.InstanceNorm2d, for which the referee has no rule: its per-layer listing
    names the module, and the residual is its count, the input's elements (4 x 8 x 8)."""
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.InstanceNorm2d(4))
    (row,) = referee(model=model, input_size=8, tools=("ptflops_pytorch",))["tools"]
    assert row["residual"] == 4 * 8 * 8
    assert row["residual_from"] == {"InstanceNorm2d": 4 * 8 * 8}


@pytest.mark.peers
def test_upsampling_under_every_peers_rule():
    """nn.Upsample, nearest (x2) and bilinear (to 12x12), at a batch of 2: thop prices 1 and 11
    per output element (calc_func.py, calculate_upsample), and its total and ptflops' are
    predicted. fvcore prices the aten upsample ops 1 and 4 per output element (flop_count.py),
    which the aten vocabulary has no rule for: its residual names them with their size."""
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Upsample(scale_factor=2),
                          nn.Upsample(size=(12, 12), mode="bilinear"))
    rows = {t["tool"]: t for t in referee(model=model, input_size=8, batch_size=2)["tools"]}
    assert all(t["residual"] == 0 for name, t in rows.items() if name != "fvcore"), rows
    conv = 2 * 4 * 3 * 8 * 8
    assert rows["thop"]["reported"] == conv + 2 * 4 * 16 * 16 + 11 * 2 * 4 * 12 * 12
    assert rows["fvcore"]["residual_from"] == {"upsample_nearest2d": 2 * 4 * 16 * 16,
                                               "upsample_bilinear2d": 4 * 2 * 4 * 12 * 12}


class KeywordAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(12, 2, batch_first=True)

    def forward(self, x):
        return self.attn(query=x, key=x, value=x)[0]


@pytest.mark.peers
def test_a_peer_that_fails_inside_itself_is_named_by_its_own_error():
    """ptflops catches the error of its nn.MultiheadAttention hook (it unpacks the positional
    inputs, and there are none) and prints it: the row shows that line; the others still run."""
    rows = {t["tool"]: t for t in referee(model=Tokens(KeywordAttention()),
                                               input_size=8)["tools"]}
    assert rows["ptflops_pytorch"]["failed"] == \
        "ValueError: not enough values to unpack (expected 3, got 0)"
    assert all(t["residual"] == 0 for name, t in rows.items() if name != "ptflops_pytorch")


@pytest.mark.peers
@pytest.mark.parametrize("given", [["--input", "2x6:int64", "--input", "mask=2x6"],
                                   ["--inputs", "tests/data/user_models.py:tagger_inputs"]])
def test_the_referee_takes_a_models_inputs_as_table_does(given):
    """The Tagger on token ids and a keyword mask (2 x 6 tokens, an embedding of 8, a linear to
    5 tags): each peer is given the inputs its own way. thop and torchscan count the linear's
    2*6*8*5 MACs, FlopCounterMode twice that; ptflops, called with keywords, divides its module
    counts by 1, not the batch, and adds the bias: 12 * (8*5 + 5). fvcore's torch.jit trace and
    torchinfo refuse the dataclass output: their rows say so, and the exit code is 3."""
    result = CliRunner().invoke(app, ["referee", "--model", "tests/data/user_models.py:tagger",
                                      *given, "--format", "json"])
    assert result.exit_code == 3, result.output
    import json

    payload = json.loads(result.stdout)
    rows = {t["tool"]: t for t in payload["tools"]}
    macs = 2 * 6 * 8 * 5
    assert {tool: rows[tool]["reported"] for tool in ("thop", "torchscan", "flop_counter",
                                                     "ptflops_pytorch", "ptflops_aten")} == {
        "thop": macs, "torchscan": macs, "flop_counter": 2 * macs,
        "ptflops_pytorch": 12 * (8 * 5 + 5), "ptflops_aten": 12 * (8 * 5 + 5)}
    assert all(t["residual"] == 0 for t in payload["tools"] if not t["failed"])
    assert rows["fvcore"]["failed"].startswith("RuntimeError: Only tuples, lists and Variables")
    assert rows["torchinfo"]["failed"].startswith("RuntimeError: Failed to run torchinfo")
    if given[0] == "--input":
        assert payload["meta"]["inputs"] == "2x6:int64, mask=2x6"


def test_the_referees_input_options_are_checked():
    for args, words in ((["--seq-len", "16"], "--seq-len applies to Hugging Face"),
                        (["--input", "1x3x8x8", "--input-size", "8"], "--input-size")):
        result = CliRunner().invoke(app, ["referee", "--model",
                                          "tests/data/user_models.py:functional", *args])
        assert result.exit_code == 2, result.output
        assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.peers
def test_torchinfo_counts_a_shared_modules_parameters_as_its_bookkeeping_does():
    """On the CoaT pattern (96 parameters: stem 16, shared cpe 40, two 1x1 convs of 20) torchinfo
    reports 196, worked by hand from torchinfo 1.8's source: the cpe is registered last under
    blocks.1, so blocks.1 and blocks.0 are inserted as uncalled containers before its first call
    (both then recursive), blocks.0's own entry gets no children and keeps all its 60, blocks.1's
    keeps 60 - 20, blocks' leftover 80 - 180 is clamped to 0 on its own row but counts -100 in
    the root's, whose leftover is 0: 16 + 60 + 40 + 20 + 40 + 20. The referee predicts it."""
    rows = {t["tool"]: t for t in referee(model=Shared(), input_size=8)["tools"]}
    assert rows["torchinfo"]["params_reported"] == 196
    assert rows["torchinfo"]["params_residual"] == 0
    assert rows["fvcore"]["params_reported"] == 16 + 40 + 20 + 20


@pytest.mark.peers
@pytest.mark.parametrize("batch", [1, 2])
def test_one_dimensional_signals_and_every_pool(batch):
    """Conv1d over a 1-D signal with 1-D pools (max, average, adaptive average and max) and a
    3-D adaptive max pool: each peer's rule for the pool's own dimensions (torchscan: kernel - 1
    + 1 spatial dimension for a 1-D average pool; fvcore: no handle for a 1-D adaptive average
    pool, which runs as a 2-D one at dispatch) predicts its total to the unit."""
    class Signal(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv1d(4, 8, 3), nn.BatchNorm1d(8), nn.ReLU6(), nn.MaxPool1d(2),
                nn.AvgPool1d(3), nn.Conv1d(8, 8, 1, groups=2), nn.AdaptiveMaxPool1d(2),
                nn.AdaptiveAvgPool1d(1))
            self.cube = nn.AdaptiveMaxPool3d(1)

        def forward(self, x):
            x = self.body(x.reshape(x.shape[0], 4, 48))
            return self.cube(x.reshape(x.shape[0], 1, 2, 2, 2))

    rows = referee(model=Signal(), input_size=8, batch_size=batch)["tools"]
    for t in rows:
        assert t["residual"] == 0, (t["tool"], t["residual_from"])
    (torchscan,) = [t for t in rows if t["tool"] == "torchscan"]
    # conv 8*46*12 + BN 2*8*46 + max pool 8*23*(2-1) + avg pool 8*7*(3-1+1) + conv 8*7*4
    # + adaptive max pool to 2 (kernel 7 % 2 + 1 = 2) 8*2*(2-1) + adaptive avg (kernel 2) 8*(2-1+1)
    # + the 3-D adaptive max pool (kernel 2x2x2) 1*(8-1)
    assert torchscan["reported"] == batch * (8 * 46 * 12 + 2 * 8 * 46 + 8 * 23 + 8 * 7 * 3
                                             + 8 * 7 * 4 + 8 * 2 + 8 * 2 + 7)
