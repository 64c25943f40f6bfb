"""Reading a source file as text: BOM, PEP 263 coding lines, and clear reasons when it cannot be read.

    read_source(path) -> str          # the text, decoded as Python would; line endings untouched
    load_source(path) -> SourceFile   # the text plus what a writer needs to round-trip the file
    decode_source(data) -> str        # the same for bytes already in memory

Anything that makes a file uncheckable raises `SourceError`, whose `str()` is a short reason meant for
one line of output (`gradlint: path: reason`): a directory, a missing file, a broken symbolic link or a
link loop, permission denied, not a regular file (a FIFO or device, which could block), NUL bytes,
an unknown or invalid coding declaration, bytes that do not decode.

The returned text is exactly the decoded bytes (minus a UTF-8 BOM): `\\r\\n` and `\\r` line endings are
kept, so positions agree with LibCST and a fixer can write the file back byte for byte.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import tokenize
from dataclasses import dataclass

_BOM = b"\xef\xbb\xbf"


class SourceError(Exception):
    """A file that cannot be checked; str(exc) is the reason, for one line of output."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SourceFile:
    text: str
    encoding: str  # as tokenize.detect_encoding names it ("utf-8", "iso-8859-1", …)
    bom: bool  # the file starts with a UTF-8 byte order mark (not included in `text`)
    newline: str  # the first line ending in the file ("\n" if none)

    def encode(self, text: str | None = None) -> bytes:
        """`text` (default: the file's own) encoded the way the file was: same encoding, BOM kept."""
        data = (self.text if text is None else text).encode(self.encoding)
        return _BOM + data if self.bom else data


def read_source(path: str | os.PathLike[str]) -> str:
    """The file's text, decoded as Python would (UTF-8 BOM, `# -*- coding: ... -*-`), line endings kept."""
    return load_source(path).text


def load_source(path: str | os.PathLike[str]) -> SourceFile:
    return _decode(_read_bytes(os.fspath(path)))


def decode_source(data: bytes) -> str:
    return _decode(data).text


def _read_bytes(path: str) -> bytes:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SourceError("broken symbolic link" if os.path.islink(path) else "no such file") from None
    except OSError as exc:
        raise _os_error(exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise SourceError("is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise SourceError("not a regular file")
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise _os_error(exc) from None
    except MemoryError:
        raise SourceError("too large to read") from None


def _os_error(exc: OSError) -> SourceError:
    if isinstance(exc, PermissionError):
        return SourceError("permission denied")
    if exc.errno == errno.ELOOP:
        return SourceError("symbolic link loop")
    if exc.errno == errno.ENAMETOOLONG:
        return SourceError("file name too long")
    return SourceError(f"cannot read: {exc.strerror or exc}")


# Byte order marks of encodings Python cannot read source in (it needs an ASCII-compatible encoding):
# such a file is named for what it is, not reported as "contains NUL bytes". Longest marks first.
_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"), (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"), (b"\xfe\xff", "UTF-16 (big-endian)"),
)


def _decode(data: bytes) -> SourceFile:
    for bom, name in _WIDE_BOMS:
        if data.startswith(bom):
            raise SourceError(f"encoded as {name} with a byte order mark, which Python cannot run; "
                              "save it as UTF-8")
    if b"\x00" in data:
        raise SourceError("contains NUL bytes (not a Python source file)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        msg = getattr(exc, "msg", None) or str(exc)
        if "invalid or missing encoding declaration" in msg:
            encoding = "utf-8"  # a non-UTF-8 byte in the first two lines: say which byte, below
        elif msg.startswith("encoding problem: utf-8"):
            raise SourceError("the UTF-8 byte order mark conflicts with the coding declaration") from None
        else:
            raise SourceError(f"bad coding declaration: {msg}") from None
    bom = data.startswith(_BOM)
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    body = data[len(_BOM):] if bom else data
    try:
        text = body.decode(encoding)
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(_BOM) if bom else 0)
        line = data.count(b"\n", 0, offset) + 1
        raise SourceError(
            f"cannot decode as {encoding} (byte 0x{body[exc.start]:02x} on line {line}); "
            "add a PEP 263 coding line or save the file as UTF-8"
        ) from None
    if text.startswith("\ufeff"):  # a BOM under a non-UTF-8 declaration is still not source text
        text = text[1:]
    return SourceFile(text=text, encoding=encoding, bom=bom, newline=_first_newline(text))


def _first_newline(text: str) -> str:
    i = text.find("\n")
    j = text.find("\r")
    if j >= 0 and (i < 0 or j < i):
        return "\r\n" if text.startswith("\r\n", j) else "\r"
    return "\n"


def atomic_write(path: str, data: bytes) -> None:
    """Write `data` over the file at `path` (through symlinks), keeping everything else about it: owner,
    group, mode, hard links — as ruff's `--fix` does, which always writes into the existing file.

    - The file must be writable by this process: a read-only file (0444) is refused with
      PermissionError for a normal user, as ruff does (root may write it — and, like ruff, does).
    - A file that has other hard links, that belongs to another user or group than gradlint could give a
      new file, or that carries extended attributes (ACLs, SELinux labels) is written in place (the same
      inode: truncated and rewritten), exactly as ruff does.
    - Otherwise — the usual case: one link, our own file — the new text goes to a temporary file in the
      same folder, flushed and fsynced, given the file's mode and group, then renamed over it: never a
      half-written file, and no observable difference from writing in place.
    """
    import tempfile

    target = os.path.realpath(path)
    # Open for writing first: the permission check is the kernel's own (as ruff's open-for-write).
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if st.st_nlink == 1 and st.st_uid == _euid() and not _has_xattrs(target):
            folder = os.path.dirname(target) or "."
            try:
                tfd, tmp = tempfile.mkstemp(dir=folder, prefix=".gradlint-", suffix=".tmp")
            except OSError:
                tfd = -1  # a folder we cannot create files in: write in place
            if tfd >= 0:
                try:
                    with os.fdopen(tfd, "wb") as fh:
                        fh.write(data)
                        fh.flush()
                        if st.st_gid != os.fstat(fh.fileno()).st_gid:
                            os.fchown(fh.fileno(), -1, st.st_gid)  # PermissionError: not in that group
                        os.fchmod(fh.fileno(), stat.S_IMODE(st.st_mode))
                        os.fsync(fh.fileno())
                    os.replace(tmp, target)
                    return
                except OSError:
                    try:
                        os.unlink(tmp)
                    except OSError:
                        pass
                    # (the group could not be kept, say): fall back to writing in place
        _write_in_place(fd, data)
    finally:
        os.close(fd)


def _write_in_place(fd: int, data: bytes) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    os.ftruncate(fd, len(data))
    os.fsync(fd)


def _euid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else -1


def _has_xattrs(path: str) -> bool:
    try:
        return bool(os.listxattr(path))
    except (OSError, AttributeError):
        return False
