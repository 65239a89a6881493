"""Impact of an experiment: the command on a counts CSV and on a built experiment, the page, the
export and the API (role-scoped). Oracles: statsmodels' Poisson GLM for the rate ratio, direct
counts for the difference in differences, and incidents placed by hand inside and outside hot
spots and their buffers."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import statsmodels.api as sm
from django.conf import settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.accounts.models import Role
from backend.incidents.models import OffenceType
from backend.incidents.selectors import harm_version_current, harm_weights_for
from backend.missions.models import Allocation, Design, Experiment
from backend.patrols.models import TravelMode, Visit
from backend.reports.impact import experiment_impact, impact_csv
from tests.factories import IncidentFactory, UserFactory
from tests.missions.builders import analysis_run, at_metres, hotspot, running_experiment, someone

TZ = ZoneInfo(settings.TIME_ZONE)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


# --- the command on a counts CSV --------------------------------------------------------------


def _glm_rate_ratio(before: np.ndarray, during: np.ndarray, treated: np.ndarray) -> float:
    """exp(treated x during) of a Poisson GLM with place and period dummies (statsmodels)."""
    keep = (before + during) > 0
    b, d, t = before[keep], during[keep], treated[keep]
    g = b.size
    x = np.zeros((2 * g, g + 2))
    x[np.arange(2 * g), np.r_[np.arange(g), np.arange(g)]] = 1.0
    x[g:, g] = 1.0
    x[g:, g + 1] = t
    fit = sm.GLM(np.r_[b, d], x, family=sm.families.Poisson()).fit(tol=1e-14, maxiter=200)
    return float(np.exp(fit.params[-1]))


def _write_counts(path: Path, rows: list[list[Any]], header: str = "place,block,arm,before,during"):
    path.write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")


def test_counts_csv_gives_the_glm_rate_ratio_and_the_direct_did(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    rows = []
    for block in range(6):
        arms = rng.permutation(["treatment"] * 3 + ["control"] * 3)
        for k, arm in enumerate(arms):
            mean = rng.gamma(2.0, 3.0)
            rows.append(
                [
                    f"hs{block}-{k}",
                    f"B{block}",
                    arm,
                    rng.poisson(mean),
                    rng.poisson(mean * (0.7 if arm == "treatment" else 1.0)),
                ]
            )
    src, out = tmp_path / "counts.csv", tmp_path / "impact.json"
    _write_counts(src, rows)
    call_command(
        "impact_report",
        "--counts",
        str(src),
        "--json",
        str(out),
        "--permutations",
        "2000",
        "--seed",
        "7",
        stderr=io.StringIO(),
    )
    got = json.loads(out.read_text())

    before = np.array([r[3] for r in rows], dtype=float)
    during = np.array([r[4] for r in rows], dtype=float)
    treated = np.array([r[2] == "treatment" for r in rows])
    assert got["rate_ratio"] == pytest.approx(_glm_rate_ratio(before, during, treated), rel=1e-8)
    did = (during[treated].mean() - before[treated].mean()) - (
        during[~treated].mean() - before[~treated].mean()
    )
    assert got["did"] == pytest.approx(did, abs=1e-12)
    assert got["permutations"] == 2000 and got["seed"] == 7 and got["places"] == 36
    assert got["p_randomization"] == (got["hits"] + 1) / 2001
    low, high = got["ci95"]
    assert low < got["rate_ratio"] < high
    assert got["sentence"].startswith("Crime in treated hot spots")
    assert got["totals"]["treatment"]["before"] == before[treated].sum()


def test_counts_csv_without_a_block_column_to_stdout(tmp_path: Path) -> None:
    src = tmp_path / "counts.csv"
    _write_counts(
        src,
        [
            ["a", "treatment", 5, 2],
            ["b", "control", 4, 4],
            ["c", "treatment", 3, 1],
            ["d", "control", 6, 5],
        ],
        header="place,arm,before,during",
    )
    stdout = io.StringIO()
    call_command(
        "impact_report",
        "--counts",
        str(src),
        "--json",
        "-",
        "--permutations",
        "100",
        "--seed",
        "1",
        stdout=stdout,
    )
    got = json.loads(stdout.getvalue())
    assert got["rate_ratio"] == pytest.approx((3 / 8) / (9 / 10))
    assert {"rate_ratio", "ci95", "did", "p_randomization", "permutations", "sentence"} <= set(got)


def test_bad_csv_rows_are_named_by_line_and_nothing_is_written(tmp_path: Path) -> None:
    src, out = tmp_path / "counts.csv", tmp_path / "impact.json"
    _write_counts(
        src,
        [
            ["a", "B1", "treatment", 5, 2],
            ["b", "B1", "placebo", 4, 4],  # line 3: bad arm
            ["c", "B1", "control", -1, 1],  # line 4: negative
            ["a", "B1", "control", 1, 1],  # line 5: repeated place
            ["d", "B1", "control", "x", 1],  # line 6: not a number
        ],
    )
    with pytest.raises(CommandError) as err:
        call_command("impact_report", "--counts", str(src), "--json", str(out))
    message = str(err.value)
    assert "4 bad row(s), nothing written" in message
    assert "line 3: arm must be treatment or control, got 'placebo'" in message
    assert "line 4: before must be a number >= 0, got '-1'" in message
    assert "line 5: place 'a' repeats line 2" in message
    assert "line 6: before is not a number: 'x'" in message
    assert "line 2" not in message.replace("repeats line 2", "")
    assert not out.exists()


def test_a_block_with_one_arm_is_a_command_error(tmp_path: Path) -> None:
    src, out = tmp_path / "counts.csv", tmp_path / "impact.json"
    _write_counts(
        src,
        [
            ["a", "B1", "treatment", 5, 2],
            ["b", "B1", "control", 4, 4],
            ["c", "B2", "treatment", 3, 1],
        ],
    )
    with pytest.raises(CommandError, match="block 'B2' has all of its 1 place"):
        call_command("impact_report", "--counts", str(src), "--json", str(out))
    assert not out.exists()


# --- a built experiment with incidents placed by hand -----------------------------------------

TODAY = date(2026, 6, 15)
START = date(2026, 6, 5)  # during: 5-14 June (10 days); before: 26 May - 4 June


def _local(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


def _incident(x: float, y: float, when: datetime, code: str = "larceny") -> None:
    lat, lon = at_metres(x, y)
    IncidentFactory(occurred_at=when, lat=lat, lon=lon, offence=OffenceType.objects.get(code=code))


@pytest.fixture
def built(db: None) -> dict[str, Any]:
    """Two pairs of 150 m hot spots: treated at (0, 0) and (0, 1000), control at (2000, 0) and
    (2000, 1000) (metres from the origin), plus an unpaired treated hot spot at (4000, 0).
    Incidents at hand-picked points: inside hot spots, in the 150 m buffers (outside every hot
    spot), far from both, and just outside the windows."""
    run = analysis_run()
    t1, t2 = hotspot(run, rank=1, x=0, y=0), hotspot(run, rank=2, x=0, y=1000)
    c1, c2 = hotspot(run, rank=3, x=2000, y=0), hotspot(run, rank=4, x=2000, y=1000)
    lone = hotspot(run, rank=5, x=4000, y=0)
    exp = running_experiment(run, treated=[t1, t2, lone], control=[c1, c2], design=Design.PAIRED)
    Experiment.objects.filter(pk=exp.pk).update(starts_on=START, ends_on=date(2026, 7, 31), seed=5)
    for spot, label in (
        (t1, "pair 1"),
        (c1, "pair 1"),
        (t2, "pair 2"),
        (c2, "pair 2"),
        (lone, "unpaired"),
    ):
        Allocation.objects.filter(experiment=exp, hotspot=spot).update(block=label)
    before_day, during_day = date(2026, 5, 28), date(2026, 6, 8)
    placed = {
        # (x, y): (before, during)
        (10, 10): (3, 1),  # inside t1
        (-60, 1050): (2, 2),  # inside t2
        (2000, 0): (2, 3),  # inside c1
        (2070, 930): (1, 2),  # inside c2
        (4000, 0): (4, 0),  # inside the unpaired hot spot: left out of the comparison
        (150, 0): (2, 1),  # treated buffer: 75 m east of t1's edge
        (0, 1200): (1, 1),  # treated buffer: 125 m north of t2's edge
        (2000, -200): (1, 3),  # control buffer: 125 m south of c1's edge
        (1000, 0): (4, 4),  # 925 m from both arms: in no buffer
        (0, 300): (1, 0),  # 225 m north of t1's edge: just outside its buffer
    }
    for (x, y), (n_before, n_during) in placed.items():
        for k in range(n_before):
            _incident(x, y, _local(before_day + timedelta(days=k)))
        for k in range(n_during):
            _incident(x, y, _local(during_day + timedelta(days=k)))
    # Window edges, in t1: first local minute of the experiment counts as during; the minute
    # before it as before; the day before the before window and today are outside.
    _incident(0, 0, _local(START, 0, 0))
    _incident(0, 0, _local(START - timedelta(days=1), 23, 59))
    _incident(0, 0, _local(date(2026, 5, 25), 12))
    _incident(0, 0, _local(TODAY, 1))
    # A robbery (365 harm days) during, inside c1.
    _incident(1990, 5, _local(during_day, 15), code="robbery-personal")
    # A 12-minute officer visit to t1 ending 8 June 10:00; t1's next incident is at 12:00.
    ended = _local(during_day, 10)
    Visit.objects.create(
        officer=someone(),
        hotspot=t1,
        day=during_day,
        entered_at=ended - timedelta(minutes=12),
        exited_at=ended,
        dwell_s=720,
        mode=TravelMode.FOOT,
        koper_compliant=True,
    )
    return {"experiment": Experiment.objects.get(pk=exp.pk), "t1": t1, "c1": c1, "lone": lone}


def test_experiment_impact_counts_match_the_hand_placed_incidents(built: dict[str, Any]) -> None:
    r = experiment_impact(experiment=built["experiment"], permutations=200, today=TODAY)
    assert r["supported"] is True
    assert r["windows"] == {
        "days": 10,
        "before": ["2026-05-26", "2026-06-04"],
        "during": ["2026-06-05", "2026-06-14"],
    }
    by_rank = {h["rank"]: h for h in r["hotspots"]}
    got = {rank: (h["incidents_before"], h["incidents_during"]) for rank, h in by_rank.items()}
    # t1: 3 + the 23:59 edge before; 1 + the 00:00 edge during. c1: 3 + the robbery.
    assert got == {1: (4, 2), 2: (2, 2), 3: (2, 4), 4: (1, 2), 5: (4, 0)}
    weights = harm_weights_for(version=harm_version_current())
    larceny = weights[OffenceType.objects.get(code="larceny").pk]
    robbery = weights[OffenceType.objects.get(code="robbery-personal").pk]
    assert (by_rank[3]["harm_before"], by_rank[3]["harm_during"]) == pytest.approx(
        (2 * larceny, 3 * larceny + robbery)
    )
    assert by_rank[5]["in_analysis"] is False and "unpaired" in r["left_out"][0]
    assert r["counts"]["totals"] == {
        "treatment": {"before": 6.0, "during": 4.0},
        "control": {"before": 3.0, "during": 6.0},
    }
    assert r["rate_ratio"] == pytest.approx((4 / 6) / (6 / 3))
    assert r["did"] == pytest.approx((4 / 2 - 6 / 2) - (6 / 2 - 3 / 2))
    areas = r["displacement"]["areas"]
    assert areas["treated_hotspots"] == {"before": 6, "during": 4}
    assert areas["control_hotspots"] == {"before": 3, "during": 6}
    assert areas["treated_buffer"] == {"before": 3, "during": 2}
    assert areas["control_buffer"] == {"before": 1, "during": 3}
    assert r["displacement"]["wdd"]["estimate"] == (4 - 6) - (6 - 3) + (2 - 3) - (3 - 1)
    wdq_value = (2 / 6 - 3 / 3) / (4 / 6 - 6 / 3)
    assert r["displacement"]["wdq"]["wdq"] == pytest.approx(wdq_value)
    bins = {b["label"]: b for b in r["deterrence"]["bins"]}
    assert bins["10-16 min"]["visits"] == 1 and bins["10-16 min"]["incidents"] == 1
    assert bins["10-16 min"]["median_hours"] == pytest.approx(2.0)  # 10:00 -> 12:00
    assert sum(w["treatment"] for w in r["weekly"]["weeks"]) == 10
    assert sum(w["control"] for w in r["weekly"]["weeks"]) == 9
    assert [w["days"] for w in r["weekly"]["weeks"]] == [3, 7, 7, 3]
    for key in ("sentence", "did_sentence"):
        assert r["counts"][key] and r["harm"][key]
    json.dumps(r, allow_nan=False)  # JSON-ready


def test_command_on_an_experiment_writes_the_contract_keys(
    built: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    out = tmp_path / "impact.json"
    call_command(
        "impact_report",
        "--experiment",
        str(built["experiment"].pk),
        "--json",
        str(out),
        "--permutations",
        "300",
        stderr=io.StringIO(),
    )
    got = json.loads(out.read_text())
    assert {"rate_ratio", "ci95", "did", "p_randomization", "permutations", "sentence"} <= set(got)
    assert got["permutations"] == 300 and got["seed"] == 5  # the experiment's own seed
    with pytest.raises(CommandError, match="No experiment 999999"):
        call_command("impact_report", "--experiment", "999999", "--json", str(out))


def test_placeday_experiment_compares_treated_with_control_place_days(db: None) -> None:
    """Two hot spots a (0, 0) and b (1000, 0), 4 days (10-13 June), swapping arms daily. By
    hand: a has 2 incidents on its treated days and 2 on control days, b has 1 and 3; with two
    treated and two control days per hot spot the place-effects MLE solves 3 - 8 pi = 0, so
    pi = 3/8 = e^b / (e^b + 1) and the rate ratio is e^b = 3/5."""
    run = analysis_run()
    a, b = hotspot(run, rank=1), hotspot(run, rank=2, x=1000)
    exp = running_experiment(run, treated=[], control=[], design=Design.PLACEDAY)
    first = date(2026, 6, 10)
    Experiment.objects.filter(pk=exp.pk).update(starts_on=first, ends_on=date(2026, 7, 31))
    exp.refresh_from_db()
    for d in range(4):
        day = first + timedelta(days=d)
        Allocation.objects.create(
            experiment=exp,
            hotspot=a,
            day=day,
            block="all",
            arm="treatment" if d % 2 == 0 else "control",
        )
        Allocation.objects.create(
            experiment=exp,
            hotspot=b,
            day=day,
            block="all",
            arm="control" if d % 2 == 0 else "treatment",
        )
    per_day = {0: (2, 0), 1: (1, 0), 2: (0, 3), 3: (1, 1)}  # (a, b) incidents per day
    for d, (n_a, n_b) in per_day.items():
        for _ in range(n_a):
            _incident(10, -10, _local(first + timedelta(days=d)))
        for _ in range(n_b):
            _incident(1000, 20, _local(first + timedelta(days=d)))
    _incident(0, 0, _local(first - timedelta(days=1)))  # before the experiment: not counted
    _incident(500, 0, _local(first))  # in neither hot spot
    for d in (0, 1):  # visits to a ending 09:00 on a treated day (0) and a control day (1)
        ended = _local(first + timedelta(days=d), 9)
        Visit.objects.create(
            officer=someone(),
            hotspot=a,
            day=first + timedelta(days=d),
            entered_at=ended - timedelta(minutes=12),
            exited_at=ended,
            dwell_s=720,
            mode=TravelMode.FOOT,
            koper_compliant=True,
        )

    r = experiment_impact(experiment=exp, permutations=500, today=date(2026, 6, 14))
    assert r["supported"] is True and r["did"] is None
    assert r["windows"] == {"days": 4, "during": ["2026-06-10", "2026-06-13"]}
    counts = r["placeday"]["counts"]
    assert (counts["treated_total"], counts["control_total"]) == (3.0, 5.0)
    assert (counts["treated_place_days"], counts["control_place_days"]) == (4, 4)
    assert r["rate_ratio"] == pytest.approx(3 / 5, rel=1e-9)
    rows = {h["rank"]: h for h in r["placeday_hotspots"]}
    assert (rows[1]["incidents_treated_days"], rows[1]["incidents_control_days"]) == (2, 2)
    assert (rows[2]["incidents_treated_days"], rows[2]["incidents_control_days"]) == (1, 3)
    assert r["sentence"].startswith("Crime on treated place-days fell 40%")
    assert 0 < r["p_randomization"] <= 1
    bins = {b["label"]: b for b in r["deterrence"]["bins"]}
    assert bins["10-16 min"]["visits"] == 1  # the control-day visit is not a treatment visit
    assert bins["10-16 min"]["median_hours"] == pytest.approx(3.0)  # 09:00 -> 12:00
    assert r["weekly"]["weeks"] == [
        {
            "week_start": "2026-06-10",
            "days": 4,
            "period": "during",
            "treatment": 3,
            "control": 5,
            "treatment_per_hotspot_week": 3 / 4 * 7,
            "control_per_hotspot_week": 5 / 4 * 7,
        }
    ]
    rows_csv = list(csv.reader(io.StringIO(impact_csv(r))))
    assert rows_csv[0][4:6] == ["treated_days", "control_days"] and len(rows_csv) == 3
    json.dumps(r, allow_nan=False)


def test_placeday_page_and_api_render(db: None, client: Client, monkeypatch: pytest.MonkeyPatch):
    run = analysis_run()
    a, b = hotspot(run, rank=1), hotspot(run, rank=2, x=1000)
    exp = running_experiment(run, treated=[], control=[], design=Design.PLACEDAY)
    Experiment.objects.filter(pk=exp.pk).update(starts_on=date(2026, 6, 10), ends_on=TODAY)
    for d in range(5):
        day = date(2026, 6, 10) + timedelta(days=d)
        arms = ("treatment", "control") if d % 2 else ("control", "treatment")
        Allocation.objects.create(experiment=exp, hotspot=a, day=day, arm=arms[0])
        Allocation.objects.create(experiment=exp, hotspot=b, day=day, arm=arms[1])
        _incident(0, 0, _local(day))
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    client.force_login(UserFactory(role=Role.ANALYST))
    html = client.get(reverse("reports:experiment-impact", args=[exp.pk])).content.decode()
    assert "on treated place-days" in html and "Treated days" in html
    body = client.get(reverse("api-experiment-impact", args=[exp.pk]), {"permutations": 50})
    assert body.status_code == 200 and body.json()["placeday"]["counts"]["n_days"] == 5
    chart = client.get(reverse("reports:experiment-impact-chart", args=[exp.pk]))
    assert chart.status_code == 200


def test_an_experiment_starting_today_has_no_full_day_yet(db: None) -> None:
    run = analysis_run()
    exp = running_experiment(run, treated=[hotspot(run, rank=1)], control=[hotspot(run, rank=2)])
    Experiment.objects.filter(pk=exp.pk).update(starts_on=TODAY)
    exp.refresh_from_db()
    r = experiment_impact(experiment=exp, today=TODAY)
    assert r["supported"] is False and "at least one full day" in r["message"]


def test_an_experiment_ended_early_stops_counting_on_its_end_day(built: dict[str, Any]) -> None:
    exp = built["experiment"]
    Experiment.objects.filter(pk=exp.pk).update(ended_at=_local(date(2026, 6, 9), 15))
    exp.refresh_from_db()
    r = experiment_impact(experiment=exp, permutations=10, today=TODAY)
    assert r["windows"]["during"] == ["2026-06-05", "2026-06-09"] and r["windows"]["days"] == 5


def test_an_allocation_with_no_two_armed_block_is_not_compared(db: None) -> None:
    run = analysis_run()
    a, b = hotspot(run, rank=1), hotspot(run, rank=2, x=1000)
    exp = running_experiment(run, treated=[a], control=[b])
    Allocation.objects.filter(experiment=exp, hotspot=a).update(block="x")
    Allocation.objects.filter(experiment=exp, hotspot=b).update(block="y")
    Experiment.objects.filter(pk=exp.pk).update(starts_on=START)
    exp.refresh_from_db()
    r = experiment_impact(experiment=exp, permutations=10, today=TODAY)
    assert r["supported"] is False and "both arms" in r["message"]


def test_csv_export_neutralizes_formula_cells() -> None:
    text = impact_csv(
        {
            "hotspots": [
                {
                    "hotspot_id": 1,
                    "rank": 1,
                    "district": '=HYPERLINK("x")',
                    "block": "+1",
                    "arm": "-x",
                    "incidents_before": 3,
                    "incidents_during": 2,
                    "harm_before": 1.0,
                    "harm_during": 2.0,
                }
            ]
        }
    )
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[2:5] == ['\'=HYPERLINK("x")', "'+1", "'-x"]


# --- pages and API by role --------------------------------------------------------------------


def _urls(pk: int) -> list[str]:
    return [
        reverse("reports:impact"),
        reverse("reports:experiment-impact", args=[pk]),
        reverse("reports:experiment-impact-chart", args=[pk]),
        reverse("reports:experiment-impact-csv", args=[pk]),
        reverse("reports:experiment-impact-json", args=[pk]),
        reverse("api-experiment-impact", args=[pk]),
    ]


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SERGEANT])
def test_officers_and_sergeants_get_403_and_no_data(
    built: dict[str, Any], client: Client, role: str
) -> None:
    client.force_login(UserFactory(role=role))
    for url in _urls(built["experiment"].pk):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"rate_ratio" not in response.content and b"Crime in treated" not in (
            response.content
        )


def test_anonymous_users_are_sent_to_sign_in_or_refused(
    built: dict[str, Any], client: Client
) -> None:
    for url in _urls(built["experiment"].pk):
        assert client.get(url).status_code in (302, 401, 403), url


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ANALYST, Role.ADMIN])
def test_page_export_and_api_for_supervisors_analysts_and_admins(
    built: dict[str, Any], client: Client, role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    client.force_login(UserFactory(role=role))
    pk = built["experiment"].pk
    page = client.get(reverse("reports:experiment-impact", args=[pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Crime in treated hot spots" in html and "weighted displacement quotient" in html
    assert reverse("reports:experiment-impact-chart", args=[pk]) in html
    chart = client.get(reverse("reports:experiment-impact-chart", args=[pk]))
    assert chart.status_code == 200 and chart["Content-Type"] == "image/svg+xml"
    assert chart.content.lstrip().startswith(b"<?xml") and b"<svg" in chart.content
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("reports:experiment-impact-csv", args=[pk])).content.decode()
            )
        )
    )
    assert rows[0][:2] == ["hotspot_id", "rank"] and len(rows) == 6
    api = client.get(reverse("api-experiment-impact", args=[pk]), {"permutations": 100})
    assert api.status_code == 200
    body = api.json()
    assert body["supported"] is True and body["permutations"] == 100
    assert body["rate_ratio"] == pytest.approx((4 / 6) / (6 / 3))
    assert len(body["hotspots"]) == 5 and body["seed"] == "5"
    index = client.get(reverse("reports:impact")).content.decode()
    assert reverse("reports:experiment-impact", args=[pk]) in index


def test_api_bounds_the_number_of_permutations(built: dict[str, Any], client: Client) -> None:
    client.force_login(UserFactory(role=Role.ANALYST))
    url = reverse("api-experiment-impact", args=[built["experiment"].pk])
    assert client.get(url, {"permutations": 10**9}).status_code == 400
    assert client.get(url, {"permutations": -1}).status_code == 400
    assert client.get(reverse("api-experiment-impact", args=[999999])).status_code == 404


def test_math_is_finite_in_the_page_figures(built: dict[str, Any]) -> None:
    r = experiment_impact(experiment=built["experiment"], permutations=50, today=TODAY)
    assert all(math.isfinite(v) for v in r["counts"]["ci95"])


def test_impact_per_hot_spot_as_a_geopackage_reads_back_with_the_csv_numbers(
    built: dict[str, Any], client: Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The GeoPackage (read with sqlite3 alone) carries the CSV's rows with each polygon."""
    import shapely
    from shapely.geometry import shape

    from backend.hotspots.models import Hotspot
    from tests.gis.test_layers import read_gpkg

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    client.force_login(UserFactory(role=Role.ANALYST))
    pk = built["experiment"].pk
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(reverse("reports:experiment-impact-csv", args=[pk])).content.decode()
            )
        )
    )
    response = client.get(reverse("reports:experiment-impact-gpkg", args=[pk]))
    assert response.status_code == 200
    path = tmp_path / "impact.gpkg"
    path.write_bytes(response.content)
    gpkg = read_gpkg(path)
    assert gpkg["crs"] == "EPSG:4326"
    features = {props["hotspot_id"]: (geom, props) for geom, props in gpkg["features"]}
    assert len(features) == len(rows) == 5
    for row in rows:
        geom, props = features[int(row["hotspot_id"])]
        assert props["incidents_before"] == int(row["incidents_before"])
        assert props["incidents_during"] == int(row["incidents_during"])
        assert props["arm"] == row["arm"]
        polygon = shape(Hotspot.objects.get(pk=int(row["hotspot_id"])).geometry)
        assert shapely.equals_exact(geom.normalize(), polygon.normalize(), tolerance=1e-9)
