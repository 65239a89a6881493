"""The repository stands alone: nothing it holds reads a path outside it.

`.ci/run` runs the whole suite from a fresh clone in an empty folder (no sibling folders); these
tests catch the same mistakes earlier and name the file: a path that climbs out of the repository,
and a data file without its provenance.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import REPO, TEST_DATA

# Written in pieces so that this file does not match itself.
OUTSIDE = [
    re.compile(re.escape(".." + "/shared")),
    re.compile(r"parents?\s*(\[\s*\d\s*\])?\s*/\s*['\"]" + "shared" + r"['\"]"),
    re.compile("PRESENCE_" + "SHARED_DATA"),
    re.compile(re.escape("/work" + "/shared")),
]


def tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    return [REPO / name for name in out.split("\0") if name]


def test_no_tracked_file_reads_a_folder_beside_the_repository() -> None:
    offenders = []
    for path in tracked_files():
        if path.suffix in {".gz", ".png", ".gpkg", ".zip"} or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), start=1):
            if any(p.search(line) for p in OUTSIDE):
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert offenders == []


def test_every_data_file_is_tracked_and_has_its_row_in_the_data_readme() -> None:
    readme = (TEST_DATA / "README.md").read_text()
    tracked = {p for p in tracked_files() if TEST_DATA in p.parents}
    data = sorted(p for p in TEST_DATA.rglob("*") if p.is_file() and p.name != "README.md")
    assert data, "tests/data holds no data file"
    for path in data:
        name = path.relative_to(TEST_DATA).as_posix()
        assert f"`{name}`" in readme, f"{name} has no row in tests/data/README.md"
        assert path in tracked, f"{name} is not tracked by git: a clone would not have it"
