"""Reading a source file as text: BOM, PEP 263 coding lines, and clear reasons when it cannot be read."""

from __future__ import annotations

import io
import os
import tokenize


class SourceError(Exception):
    """A file that cannot be checked; str(exc) is the reason, for one line of output."""


def read_source(path: str) -> str:
    """The file's text, decoded as Python would (UTF-8 BOM, `# -*- coding: ... -*-`), line endings kept."""
    try:
        if os.path.isdir(path):
            raise SourceError("is a directory")
        with open(path, "rb") as fh:
            data = fh.read()
    except SourceError:
        raise
    except FileNotFoundError:
        if os.path.islink(path):
            raise SourceError("broken symbolic link") from None
        raise SourceError("no such file") from None
    except PermissionError:
        raise SourceError("permission denied") from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise SourceError("symbolic link loop") from None
        raise SourceError(exc.strerror or str(exc)) from None
    return decode_source(data)


def decode_source(data: bytes) -> str:
    if b"\x00" in data:
        raise SourceError("contains NUL bytes (not a Python source file)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise SourceError(f"bad encoding declaration: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            raise SourceError(
                f"cannot decode as {encoding} (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                "add a PEP 263 coding line or save the file as UTF-8"
            ) from None
        raise SourceError(f"unknown encoding {encoding!r}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text
