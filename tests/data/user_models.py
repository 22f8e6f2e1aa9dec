"""Models written for the tests of `--model` (incprof/capture.py): functional ops, a shared module,
residual adds and an Inception-like concat block. Their counts are worked out by hand in
tests/test_capture.py."""

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    """conv 3x3 (same) + BN + ReLU, added to its input: called twice by Functional (shared)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x))) + x


class Functional(nn.Module):
    """Functional conv with its own weight, a shared block, exp and sigmoid, mean, matmul."""

    def __init__(self, width: int = 8, classes: int = 5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(width, 3, 3, 3) * 0.1)
        self.block = Block(width)
        self.fc = nn.Linear(width, classes)
        self.proj = nn.Parameter(torch.randn(classes, classes) * 0.1)

    def forward(self, x):
        x = F.conv2d(x, self.weight, stride=2, padding=1)
        x = self.block(self.block(x))
        x = torch.exp(x) * torch.sigmoid(x)  # exp has no counting rule: listed as not counted
        x = self.fc(x.mean((2, 3)))
        return x @ self.proj


class Mixed(nn.Module):
    """An Inception-like block: 1x1, 1x1 -> 3x3 and pool -> 1x1 branches, concatenated."""

    def __init__(self, cin: int, c1: int, c3r: int, c3: int, cp: int, k: int = 3) -> None:
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(cin, c1, 1, bias=False), nn.BatchNorm2d(c1, eps=1e-3),
                                nn.ReLU(inplace=True))
        self.b3 = nn.Sequential(nn.Conv2d(cin, c3r, 1, bias=False), nn.BatchNorm2d(c3r, eps=1e-3),
                                nn.ReLU(inplace=True), nn.Conv2d(c3r, c3, k, padding=k // 2, bias=False),
                                nn.BatchNorm2d(c3, eps=1e-3), nn.ReLU(inplace=True))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, cp, 1, bias=False),
                                nn.BatchNorm2d(cp, eps=1e-3), nn.ReLU(inplace=True))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.bp(x)], 1)


class Residual(nn.Module):
    """out = relu(x + 0.5 * (conv -> relu -> conv)(x)), with a 1x1 projection shortcut."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.short = nn.Conv2d(cin, cout, 1)
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(cout, cout, 3, padding=1))

    def forward(self, x):
        return F.relu(self.body(x) * 0.5 + self.short(x))


def functional(width: int = 8, classes: int = 5):
    """The Functional model."""
    return Functional(width, classes)


def inception_like(classes: int = 10):
    """stem conv -> max pool -> Mixed -> residual -> global pool -> dropout -> linear."""
    from collections import OrderedDict

    return nn.Sequential(OrderedDict([
        ("stem", nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, bias=False), nn.BatchNorm2d(16),
                               nn.ReLU(inplace=True))),
        ("pool", nn.MaxPool2d(3, 2, ceil_mode=True)),
        ("mixed", Mixed(16, 8, 4, 8, 4)),
        ("res", Residual(20, 20)),
        ("gap", nn.AdaptiveAvgPool2d(1)),
        ("flat", nn.Flatten(1)),
        ("drop", nn.Dropout(0.2)),
        ("fc", nn.Linear(20, classes)),
    ]))


def raises():
    """A factory that fails."""
    raise RuntimeError("no such width")


def flat_only():
    """A model that rejects 4-d input: a Linear on 3-channel input."""
    return nn.Linear(7, 2)


class Branchy(nn.Module):
    """Data-dependent control flow: torch.export cannot trace it (a zero input takes the conv)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.other = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        if x.sum() > 0:
            return self.other(x)
        return self.conv(x)


def branchy():
    """The Branchy model."""
    return Branchy()


def hardswish_net():
    """conv -> Hardswish: an activation the spec has no layer for."""
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Hardswish())


def five_by_five():
    """A stem conv, then a Mixed block whose middle branch is 1x1 -> 5x5 (for factorization)."""
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), Mixed(16, 8, 4, 8, 4, k=5))


class Attention(nn.Module):
    """Patchify conv, nn.MultiheadAttention, a ModuleList of linears (a container never called
    itself) and an einsum."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 16, 4, stride=4)
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.blocks = nn.ModuleList([nn.Linear(16, 16), nn.Linear(16, 16)])

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = self.attn(x, x, x, need_weights=False)[0]
        for block in self.blocks:
            x = block(x)
        return torch.einsum("nld,nmd->nlm", x, x)


def attention():
    """The Attention model."""
    return Attention()


@dataclasses.dataclass
class TaggerOutput:
    """A dataclass output, as Hugging Face's ModelOutput is."""

    logits: torch.Tensor
    extra: dict


class Tagger(nn.Module):
    """Token ids (positional) and a keyword mask: an embedding (a gather), a linear per token, the
    mask multiplied in; returns a dataclass holding a dict."""

    def __init__(self, vocab: int = 50, width: int = 8, tags: int = 5) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.head = nn.Linear(width, tags)

    def forward(self, ids, mask=None):
        logits = self.head(self.embed(ids))
        if mask is not None:
            logits = logits * mask.unsqueeze(-1)
        return TaggerOutput(logits, {"pooled": logits.mean(1)})


def tagger():
    """The Tagger model."""
    return Tagger()


def tagger_inputs():
    """--inputs for the Tagger: ids of 2 sequences of 6 tokens, and their mask, as (args, kwargs)."""
    return (torch.zeros(2, 6, dtype=torch.int64),), {"mask": torch.ones(2, 6)}


class Aliased(nn.Module):
    """A linear reached under two names and called twice, a head never called, a Sequential."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 8)
        self.shared = nn.Linear(8, 8)
        self.alias = self.shared
        self.unused = nn.Linear(8, 100)
        self.body = nn.Sequential(nn.ReLU(), nn.Linear(8, 2))

    def forward(self, x):
        return self.body(self.alias(self.shared(self.a(x))))


def aliased():
    """The Aliased model."""
    return Aliased()


class WithAux(nn.Module):
    """The Inception-like network, and an auxiliary head that eval never runs."""

    def __init__(self) -> None:
        super().__init__()
        self.body = inception_like()
        self.aux = nn.Sequential(nn.Conv2d(16, 4, 1), nn.Flatten(), nn.Linear(4 * 7 * 7, 5))

    def forward(self, x):
        return self.body(x)


def with_aux():
    """The WithAux model."""
    return WithAux()


class Owner(nn.Module):
    """Owns ``proj`` but calls only ``fc``."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(x)


class Caller(nn.Module):
    """Calls a module it does not own (held in a list, so not registered), twice."""

    def __init__(self, proj: nn.Module) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.borrowed = [proj]

    def forward(self, x):
        return self.borrowed[0](self.fc(x)) + self.borrowed[0](x)


class SharedCall(nn.Module):
    """``a.proj`` is called only from inside ``b``; an ``aux`` head never runs."""

    def __init__(self) -> None:
        super().__init__()
        self.a = Owner()
        self.b = Caller(self.a.proj)
        self.aux = nn.Linear(8, 100)

    def forward(self, x):
        return self.b(self.a(x))


def shared_call():
    """The SharedCall model."""
    return SharedCall()


class PosBlock(nn.Module):
    """timm CoaT's pattern: a block that owns an alias of a module registered at the top."""

    def __init__(self, cpe: nn.Module) -> None:
        super().__init__()
        self.cpe = cpe
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(self.cpe(x))


class CoatLike(nn.Module):
    """``cpe`` registered first at the top, then inside each of two blocks, which call it."""

    def __init__(self) -> None:
        super().__init__()
        self.cpe = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
        self.blocks = nn.ModuleList(PosBlock(self.cpe) for _ in range(2))

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


def coat_like():
    """The CoatLike model."""
    return CoatLike()


class Tied(nn.Module):
    """A token embedding whose weight the output head reuses (tied, as in language models)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids):
        return self.head(self.embed(ids))


def tied():
    """The Tied model."""
    return Tied()
