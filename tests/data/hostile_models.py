"""Models whose code tries to decide incprof's outcome (tests/capture/test_guard.py): exits, prints,
argument parsing at import, a changed working folder, runaway loops and size bombs. Each is a 1x1
conv on 3 channels where it runs at all, at any input size."""

import argparse
import os
import sys
import time

from torch import nn

# A training script's module-level argument parsing: incprof's own arguments would make it exit.
ARGS = argparse.ArgumentParser().parse_args()


class Acting(nn.Module):
    """A 1x1 conv whose forward first does ``how``."""

    def __init__(self, how: str = "") -> None:
        super().__init__()
        self.how = how
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        if self.how == "sys.exit":
            sys.exit(0)
        if self.how == "os._exit":
            os._exit(0)
        if self.how == "print":
            print('=HYPERLINK("http://example/x")')
        if self.how == "loop":
            while True:
                pass
        if self.how == "sleep":  # waits without computing: no CPU time spent
            time.sleep(3600)
        if self.how == "swallow":  # catches every exception, the timeout's included
            while True:
                try:
                    time.sleep(0.05)
                except BaseException:  # noqa: BLE001
                    pass
        return self.conv(x)


def plain():
    return Acting()


def exit_0():
    sys.exit(0)


def exit_3():
    sys.exit(3)


def exit_text():
    sys.exit("the message")


def hard_exit():
    os._exit(0)


def generator_exit():
    raise GeneratorExit("bye")


def forward_exit():
    return Acting("sys.exit")


def forward_hard_exit():
    return Acting("os._exit")


def printing():
    print('=HYPERLINK("http://example/x")')
    sys.stdout.flush()
    os.write(1, b"=written to file descriptor 1\n")
    return Acting("print")


def moving():
    os.chdir(os.sep)
    return Acting()


def looping():
    return Acting("loop")


def swallowing():
    return Acting("swallow")


def sleeping():
    return Acting("sleep")


def relus(n=50):
    """``n`` ReLU modules in a row: ``n`` leaf modules."""
    return nn.Sequential(*[nn.ReLU() for _ in range(n)])


class Chain(nn.Module):
    """``n`` functional ReLUs in one module: ``n`` aten ops in a forward pass, one leaf module."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x):
        for _ in range(self.n):
            x = x.relu()
        return x


def chain(n=50):
    return Chain(n)


# Module names that hold terminal escapes: an OSC that sets the window title, a colour, a bell,
# a right-to-left override, a C1 control and DEL, and a formula.
NAMES = ["\x1b]0;pwned\x07title", "\x1b[31mred", "bell\x07", "\u202eevil", "c1\x9b2J", "del\x7f",
         '=HYPERLINK("http://example/x")', "line\nbreak"]


def named():
    """A 1x1 conv, then ReLUs under the names above."""
    model = nn.Sequential()
    model.add_module("conv", nn.Conv2d(3, 4, 1))
    for name in NAMES:
        model.add_module(name, nn.ReLU())
    return model
