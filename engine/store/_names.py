"""File names that are not UTF-8 (old archives, Windows shares mounted on Linux).

Python decodes such names with surrogate escapes (``'caf\\udce9.dcm'``), which SQLite
and a UTF-8 terminal cannot take. :func:`stored_path` turns them into plain text that
shows the odd bytes (``bytes:/data/caf\\xe9.dcm``) and :func:`fs_path` turns that back
into the name the file system knows. A name that is valid UTF-8 is stored unchanged,
so both functions are the identity for almost every path.
"""

from __future__ import annotations

import os
import re

PREFIX = "bytes:"
_ESCAPE = re.compile(rb"\\x([0-9a-f]{2})")


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def stored_path(path: str | os.PathLike) -> str:
    """Text safe for the database and for printing; reversible with :func:`fs_path`."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not _has_surrogates(text):
        return text
    raw = os.fsencode(text).replace(b"\\", b"\\x5c")
    return PREFIX + raw.decode("utf-8", "backslashreplace")


def fs_path(text: str) -> str:
    """The file-system name (surrogate-escaped ``str``) of a :func:`stored_path` text."""
    if not text.startswith(PREFIX):
        return text
    raw = _ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), text[len(PREFIX):].encode("utf-8"))
    return os.fsdecode(raw)


def safe_text(text: str) -> str:
    """Any message that may quote a file name, made printable on a UTF-8 stream."""
    if not _has_surrogates(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")




FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A text cell a spreadsheet will not run as a formula (OWASP CSV injection rule).

    Text starting with ``= + - @``, tab or carriage return gets a leading ``'``;
    numbers and ``None`` are returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


__all__ = ["FORMULA_PREFIXES", "csv_cell", "fs_path", "safe_text", "stored_path"]
