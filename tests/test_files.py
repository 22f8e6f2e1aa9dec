"""Atomic writes leave either the old file or the whole new one; outputs behave like files."""

import os
import stat
import threading

import pytest

from incprof.errors import OutputError
from incprof.files import check_folder, check_output, write_atomic


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


# ---- files behave like files (the mode open() gives; links, devices, FIFOs and - written through)
@pytest.fixture
def umask():
    """Run with a known umask, restored afterwards; returns it."""
    previous = os.umask(0o027)
    yield 0o027
    os.umask(previous)


def test_new_file_gets_the_umask_mode_and_a_replaced_file_keeps_its_own(tmp_path, umask):
    new = tmp_path / "new.txt"
    write_atomic(new, "x")
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask == 0o640
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o604)
    write_atomic(kept, "new")
    assert kept.read_text() == "new" and stat.S_IMODE(kept.stat().st_mode) == 0o604


def test_a_symlink_is_followed_and_stays(tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    write_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "made.txt")
    write_atomic(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "made.txt").read_text() == "made"
    assert sorted(os.listdir(tmp_path)) == ["dangling.txt", "link.txt", "made.txt", "real.txt"]


def test_a_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_atomic(fifo, "through the pipe")
    reader.join(timeout=10)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and os.listdir(tmp_path) == ["pipe"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_device_is_written_through_and_its_errors_name_the_path(tmp_path):
    null = tmp_path / "null"
    null.symlink_to("/dev/null")
    write_atomic(null, "discarded")
    assert null.is_symlink() and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    full = tmp_path / "full"
    full.symlink_to("/dev/full")
    with pytest.raises(OutputError) as caught:
        write_atomic(full, "x" * 10_000)
    assert str(caught.value) == f"cannot write {full}: No space left on device"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert sorted(os.listdir(tmp_path)) == ["full", "null"]


def test_dash_is_stdout(capsysbinary):
    write_atomic("-", b"\x89PNG bytes")
    assert capsysbinary.readouterr().out == b"\x89PNG bytes"


def test_write_errors_name_the_path_given_never_a_temp_file(tmp_path, full_disk):
    target = tmp_path / "out.txt"
    with pytest.raises(OutputError) as caught:
        write_atomic(target, "data")
    assert str(caught.value) == f"cannot write {target}: No space left on device"
    assert isinstance(caught.value, OSError) and caught.value.errno == 28
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("typed, problem", [
    ("nodir/x.csv", "folder nodir does not exist"),
    ("sub", "it is a folder"),
    ("plain.txt/x.csv", "plain.txt is not a folder"),
    ("plain.txt/deeper/x.csv", "plain.txt/deeper is not a folder"),
])
def test_check_output_refuses_with_the_path_as_typed(tmp_path, monkeypatch, typed, problem):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "plain.txt").write_text("a regular file, which no one can put a file into")
    with pytest.raises(OutputError) as caught:
        check_output(typed)
    assert str(caught.value) == f"cannot write {typed}: {problem}"


def test_check_output_accepts_what_can_be_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "old.csv").write_text("old")
    for typed in ("new.csv", "old.csv", "sub/new.csv", "-", "/dev/null"):
        check_output(typed)
    assert sorted(os.listdir(tmp_path)) == ["old.csv", "sub"]


def test_check_output_refuses_a_folder_without_write_permission(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("permission bits do not bind here (root)")
        with pytest.raises(OutputError, match="folder .*locked is not writable"):
            check_output(locked / "x.csv")
    finally:
        locked.chmod(0o700)


def test_check_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain.txt").write_text("x")
    check_folder("reports")            # created later, with its parents
    check_folder("a/b/c")
    for typed, problem in [("plain.txt", "plain.txt is not a folder"),
                           ("plain.txt/reports", "plain.txt is not a folder")]:
        with pytest.raises(OutputError) as caught:
            check_folder(typed)
        assert str(caught.value) == f"cannot write into {typed}: {problem}"
    assert sorted(os.listdir(tmp_path)) == ["plain.txt"]
