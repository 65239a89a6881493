"""Reading an incident file as a whole: plain or gzip (by its magic number), UTF-8 text, its
delimiter and header, its line count; and where an uploaded file is kept for its import.

Row-by-row checks are in ``validation``; this module only makes the file readable or raises
``ImportFileError`` saying why it is not.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import shutil
import tempfile
import uuid
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.conf import settings

UPLOAD_CHUNK = 1 << 20  # bytes copied from an upload at a time: bounds memory per request


class ImportFileError(Exception):
    """The file cannot be read as a whole (not CSV, not UTF-8, corrupt gzip): nothing written."""


def is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == b"\x1f\x8b"


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed if it is gzip (by its magic number, not its name)."""
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


@contextmanager
def open_text(path: Path) -> Iterator[IO[str]]:
    try:
        raw = open_binary(path)
    except OSError as exc:
        raise ImportFileError(f"cannot open the file: {exc.strerror or exc}") from exc
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    try:
        yield text
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            "the file is not UTF-8 text: export it as UTF-8 (CSV UTF-8) and upload it again"
        ) from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise ImportFileError(f"the file cannot be read (corrupt or truncated?): {exc}") from exc
    finally:
        text.close()


def _dialect(header_line: str) -> str:
    """The delimiter: a comma unless the header clearly uses ``;``, tab or ``|`` instead."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def file_header(path: Path) -> tuple[list[str], str]:
    """The header's column names and the delimiter; ImportFileError if there is none."""
    with open_text(path) as f:
        first = f.readline()
    if not first.strip():
        raise ImportFileError("the file is empty: the first line must name the columns")
    delimiter = _dialect(first)
    header = next(csv.reader([first], delimiter=delimiter))
    return [h.strip() for h in header], delimiter


def count_lines(path: Path) -> int:
    """Lines in the file (an upper bound on its records, for the progress bar)."""
    newlines = returns = 0
    last = b""
    try:
        with open_binary(path) as f:
            while block := f.read(1 << 20):
                newlines += block.count(b"\n")
                returns += block.count(b"\r")
                last = block[-1:]
    except (OSError, EOFError, zlib.error) as exc:
        raise ImportFileError(f"the file cannot be read (corrupt or truncated?): {exc}") from exc
    lines = newlines or returns
    return lines + (1 if last and last not in b"\r\n" else 0)


def stored_file_path(client_uuid: uuid.UUID) -> Path | None:
    """Where the import's uploaded copy is kept (``MEDIA_ROOT/imports/<client_uuid>.csv[.gz]``)."""
    folder = Path(settings.MEDIA_ROOT) / "imports"
    for suffix in (".csv.gz", ".csv"):
        candidate = folder / f"{client_uuid}{suffix}"
        if candidate.exists():
            return candidate
    return None


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file's bytes as stored (compressed, if it is gzip), in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def file_store(path: Path, client_uuid: uuid.UUID, *, move: bool) -> Path:
    """Keep the file as ``MEDIA_ROOT/imports/<client_uuid>.csv[.gz]`` (moved or copied)."""
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{client_uuid}{'.csv.gz' if is_gzip(path) else '.csv'}"
    if move:
        shutil.move(str(path), target)
    else:
        shutil.copyfile(path, target)
    return target


def upload_save(chunks: Iterable[bytes]) -> Path:
    """Write an uploaded file's ``chunks`` to a new file under ``MEDIA_ROOT/imports``; its path."""
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix="upload-", delete=False) as out:
        for chunk in chunks:
            out.write(chunk)
    return Path(out.name)
