"""incprof.errors: an exception in one line."""

from incprof.errors import described, first_line


def test_an_exception_is_described_in_one_line():
    assert described(ValueError("bad shape\nmore detail")) == "ValueError: bad shape"
    assert described(KeyError()) == "KeyError" and first_line(KeyError()) == "KeyError"
    # a first line that only announces the next (huggingface_hub's validation errors)
    assert described(RuntimeError("Validation error for field 'x':\n  must be positive\nrest")) \
        == "RuntimeError: Validation error for field 'x': must be positive"
    assert described(OSError("x" * 500), limit=10) == "OSError: " + "x" * 10
