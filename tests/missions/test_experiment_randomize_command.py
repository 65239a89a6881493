"""``manage.py experiment_randomize``: the same seed gives the same allocation as the service."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from backend.accounts.models import Role
from backend.missions.services import experiment_create, experiment_randomize
from tests.factories import UserFactory
from tests.missions.builders import city

pytestmark = pytest.mark.django_db


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("experiment_randomize", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("design", ["blocked", "paired", "placeday"])
def test_the_command_writes_the_same_csv_as_the_experiments_export(
    design: str, tmp_path: Path
) -> None:
    city(n=18, districts=3)
    analyst = UserFactory(role=Role.ANALYST)
    e = experiment_create(
        actor=analyst,
        name="Stored",
        design=design,
        starts_on=date(2026, 6, 1),
        ends_on=date(2026, 6, 14),
    )
    e = experiment_randomize(experiment_id=e.pk, actor=analyst)
    client = Client()
    client.force_login(analyst)
    exported = client.get(reverse("api-experiment-allocation-csv", args=[e.pk])).content.decode()

    out_file = tmp_path / "allocation.csv"
    printed = run_command(
        "--design",
        design,
        "--seed",
        str(e.seed),
        "--blocks",
        "district+tier",
        "--start",
        "2026-06-01",
        "--end",
        "2026-06-14",
        "--csv",
        str(out_file),
    )
    assert out_file.read_text().splitlines() == exported.splitlines()
    assert f"seed {e.seed}" in printed and "count T" in printed and "(all)" in printed
    rows = list(csv.reader(io.StringIO(exported)))
    assert len(rows) - 1 == (18 * 14 if design == "placeday" else 18)


def test_the_command_reproduces_a_stored_experiment_and_prints_its_balance() -> None:
    city(n=12, districts=2)
    analyst = UserFactory(role=Role.ANALYST)
    e = experiment_create(
        actor=analyst,
        name="Audit me",
        design="blocked",
        starts_on=date(2026, 6, 1),
        ends_on=date(2026, 8, 29),
    )
    experiment_randomize(experiment_id=e.pk, actor=analyst)
    printed = run_command("--experiment", str(e.pk))
    assert "Identical to the stored allocation (12 rows)." in printed
    assert "can detect a" in printed
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("block"))
    assert len([line for line in lines[header + 2 :] if "|" in line]) == 4  # 2 districts x 2 tiers


def test_a_new_seed_is_drawn_when_none_is_given_and_mistakes_are_explained() -> None:
    city(n=4, districts=1)
    first = run_command("--design", "paired")
    second = run_command("--design", "paired")
    assert first.split("seed ")[1].split(",")[0] != second.split("seed ")[1].split(",")[0]
    with pytest.raises(CommandError, match="--design is required"):
        run_command()
    with pytest.raises(CommandError, match="before --start"):
        run_command("--design", "placeday", "--start", "2026-06-02", "--end", "2026-06-01")
