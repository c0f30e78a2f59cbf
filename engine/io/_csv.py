"""The one CSV reader for import manifests and label files.

- Encoding: a UTF-8 or UTF-16 byte-order mark is honoured; UTF-16 without a mark is
  recognised by its zero bytes; otherwise UTF-8, and Latin-1 (with a warning) when
  the bytes are not UTF-8. Other binary files are refused.
- Delimiter: ``,``, ``;`` or tab, whichever occurs most often outside quotes in the
  header line. Quoting is RFC 4180 (``"O""Brien, NFF"``), as Excel writes it.
- An unclosed quote, or a field over :data:`FIELD_LIMIT` characters, is an error
  naming the line; nothing of the file is used then.
- Header names are matched without regard to case or surrounding spaces; a name that
  occurs twice is refused (which value would win is not obvious).
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InvalidInput

FIELD_LIMIT = csv.field_size_limit()  # 131072 characters, Python's default
DELIMITERS = (",", ";", "\t")


class CsvError(InvalidInput):
    """A CSV file that cannot be read at all: unreadable, binary, or malformed."""


@dataclass
class CsvTable:
    """A parsed CSV: lower-cased header, ``(line, values)`` rows, and warnings."""

    path: Path
    header: list[str]
    rows: list[tuple[int, list[str]]]
    encoding: str
    delimiter: str
    warnings: list[str] = field(default_factory=list)

    def dicts(self):
        """``(line, {column: value})`` of every non-blank row."""
        for line, values in self.rows:
            yield line, {h: v for h, v in zip(self.header, values, strict=False) if h}


class _Dialect(csv.excel):
    doublequote = True
    strict = True
    skipinitialspace = False


def _decode(path: Path, data: bytes) -> tuple[str, str, list[str]]:
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "strict"), "utf-8-sig", []
    for bom, name in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return data[2:].decode(name), "utf-16", []
    sample = data[:4096]
    if len(sample) >= 4 and sample.count(0) >= len(sample) // 3:
        name = "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
        try:
            return data.decode(name), name, []
        except UnicodeDecodeError:
            pass
    if b"\x00" in data:
        raise CsvError(f"{path}: not a text file (binary data); save it as CSV text")
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return data.decode("latin-1"), "latin-1", [
            f"{path}: not UTF-8 (first odd byte on line {line}); read as Latin-1 - check "
            "accented names, or save the file as UTF-8"]


def _delimiter(first_line: str) -> str:
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in first_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(path: str | Path, what: str = "CSV file") -> CsvTable:
    """Read a whole CSV file, or raise :class:`CsvError` saying what is wrong and where."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CsvError(f"{path}: cannot open {what}: {exc.strerror or exc}") from None
    try:
        text, encoding, warnings = _decode(path, data)
    except UnicodeDecodeError as exc:
        raise CsvError(f"{path}: {what} is not valid text ({exc.reason})") from None
    if not text.strip():
        raise CsvError(f"{path}: {what} is empty (no header row)")
    delimiter = _delimiter(text.lstrip("\ufeff").splitlines()[0])
    reader = csv.reader(io.StringIO(text, newline=""), _Dialect, delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        header = [h.strip().lower() for h in next(reader)]
        for values in reader:
            if any(v.strip() for v in values):
                rows.append((reader.line_num, values))
    except csv.Error as exc:
        msg = str(exc)
        if "field larger than field limit" in msg:
            msg = f"a field is longer than {FIELD_LIMIT} characters"
        elif "unexpected end of data" in msg or "EOF" in msg:
            msg = "a quote is opened and never closed"
        raise CsvError(f"{path}: line {reader.line_num}: {msg}; nothing of the {what} was used"
                       ) from None
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise CsvError(f"{path}: column {name!r} appears twice in the header; keep one")
        seen.add(name)
    return CsvTable(path, header, rows, encoding, delimiter, warnings)


__all__ = ["FIELD_LIMIT", "CsvError", "CsvTable", "read_csv"]
