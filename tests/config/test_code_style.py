"""The formatter decides the layout: no line is hand-packed against it (no fmt skip/off markers)."""

from __future__ import annotations

from tests.conftest import REPO


def test_no_code_opts_out_of_the_formatter() -> None:
    markers = ("# fmt: " + "skip", "# fmt: " + "off")  # split: this file must not match itself
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for folder in ("backend", "tests", "bench")
        for path in sorted((REPO / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if any(marker in line for marker in markers)
    ]
    assert offenders == []
