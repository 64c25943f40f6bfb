"""gradlint.source: decoding as Python does, and one clear reason for files that cannot be read."""

from __future__ import annotations

import os

import pytest

from gradlint.source import SourceError, decode_source, load_source, read_source

from .conftest import IS_ROOT, write


def test_utf8_and_line_endings_are_kept(tmp_path):
    p = write(tmp_path, "a.py", b"x = 1\r\ny = '\xc3\xa9'\rz = 3\n")
    text = read_source(p)
    assert text == "x = 1\r\ny = 'é'\rz = 3\n"
    assert load_source(p).newline == "\r\n"


def test_bom_is_removed_and_remembered(tmp_path):
    p = write(tmp_path, "bom.py", b"\xef\xbb\xbfimport torch\n")
    sf = load_source(p)
    assert sf.text == "import torch\n" and sf.bom and sf.encoding == "utf-8"
    assert sf.encode() == p.read_bytes()


def test_pep263_coding_line(tmp_path):
    data = b"# -*- coding: latin-1 -*-\ns = '\xe9'\n"
    p = write(tmp_path, "latin.py", data)
    sf = load_source(p)
    assert sf.text.endswith("s = 'é'\n") and sf.encoding == "iso-8859-1"
    assert sf.encode() == data
    assert "é" in read_source(write(tmp_path, "vim.py", b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\ns = '\xe9'\n"))


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"s = '\xe9'\n", "cannot decode as utf-8 (byte 0xe9 on line 1)"),
        (b"import torch\nx = 1\ns = '\xff'\n", "on line 3"),
        (b"import torch\x00\n", "NUL bytes"),
        (b"# coding: klingon\n", "unknown encoding: klingon"),
        (b"\xef\xbb\xbf# coding: latin-1\n", "byte order mark conflicts"),
        (b"# coding: ascii\ns = '\xc3\xa9'\n", "cannot decode as ascii"),
    ],
)
def test_undecodable(tmp_path, data, reason):
    with pytest.raises(SourceError, match=None) as info:
        read_source(write(tmp_path, "bad.py", data))
    assert reason in str(info.value)
    assert "\n" not in str(info.value)


def test_decode_source_bytes():
    assert decode_source(b"a = 1\n") == "a = 1\n"


def test_paths_that_are_not_readable_files(tmp_path):
    (tmp_path / "dir.py").mkdir()
    (tmp_path / "broken.py").symlink_to(tmp_path / "nowhere.py")
    (tmp_path / "loop.py").symlink_to(tmp_path / "loop.py")
    os.mkfifo(tmp_path / "fifo.py")
    cases = {"dir.py": "is a directory", "broken.py": "broken symbolic link", "loop.py": "symbolic link loop",
             "missing.py": "no such file", "fifo.py": "not a regular file"}
    for name, reason in cases.items():
        with pytest.raises(SourceError) as info:
            read_source(tmp_path / name)
        assert str(info.value) == reason, name


@pytest.mark.skipif(IS_ROOT, reason="root reads files without read permission")
def test_permission_denied(tmp_path):
    p = write(tmp_path, "secret.py", "x = 1\n")
    p.chmod(0)
    try:
        with pytest.raises(SourceError, match="permission denied"):
            read_source(p)
    finally:
        p.chmod(0o644)


def test_permission_denied_even_as_root(tmp_path, monkeypatch):
    """The same, with the error simulated (tests may run as root, which reads anything)."""
    import builtins

    p = write(tmp_path, "secret.py", "x = 1\n")
    real_open = builtins.open

    def fake_open(file, *args, **kwargs):
        if str(file) == str(p):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    with pytest.raises(SourceError, match="^permission denied$"):
        read_source(p)
