"""Atomic writes leave either the old file or the whole new one."""

import os

import pytest

from incprof.files import write_atomic


def test_write_and_replace(tmp_path):
    target = tmp_path / "out.txt"
    write_atomic(target, "one")
    write_atomic(target, b"two")
    assert target.read_text() == "two"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_failure_midway_keeps_the_old_file(tmp_path, full_disk):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(OSError):
        write_atomic(target, "new " * 1000)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]
