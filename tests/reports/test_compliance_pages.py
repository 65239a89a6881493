"""The compliance page, its exports and recompute, and the sergeant's squad page, on the
hand-built day of ``test_compliance.py`` (its figures are worked out by hand there)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from shapely.geometry import shape

from backend.accounts.models import Role
from backend.audit.models import AuditEvent
from backend.reports.compliance import MAX_REPORT_DAYS
from backend.reports.models import ComplianceRecompute
from backend.reports.services import compliance_day_rebuild
from tests.factories import SquadFactory, UserFactory
from tests.missions.builders import squad_with_officers
from tests.reports.conftest import DAY, at, make_visit

RANGE = {"from": DAY.isoformat(), "to": DAY.isoformat()}


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def cells(html: str, row_label: str) -> list[str]:
    """The text of the cells of the table row headed ``row_label``."""
    row = html.split(row_label, 1)[1].split("</tr>", 1)[0]
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]


@pytest.fixture
def supervisor(db: None) -> Any:
    return UserFactory(role=Role.SUPERVISOR)


@pytest.fixture
def stranger(hand_built_day: dict) -> Any:
    """An officer of another squad with a 12-minute visit to h1 on the day."""
    _other_squad, _, (o3,) = squad_with_officers(
        district=hand_built_day["h"][0].district, officers=1
    )
    o3.first_name, o3.last_name = "Zed", "Stranger"
    o3.save()
    make_visit(hand_built_day["h"][0], at(15, 0), 12, officer=o3)
    return o3


def test_hot_spot_table_shows_the_hand_count_and_the_sentence(
    hand_built_day: dict, supervisor: Any
) -> None:
    h1, h2, h3, _ = hand_built_day["h"]
    response = client_for(supervisor).get(reverse("reports:compliance"), {**RANGE, "by": "hotspot"})
    assert response.status_code == 200
    html = response.content.decode()
    # Totals: h1 + h2 prescribed 3 + 3, delivered 2 + 1, Koper 2.
    assert (
        "On 10 Nov 2026, officers delivered 3 of 6 prescribed visits (50%); 2 were "
        "Koper-compliant (10-16 min)." in html
    )
    # prescribed, delivered, on target, %, prescribed min, delivered min, Koper, officer-min,
    # patrol-min, AVL, contamination, gap
    assert cells(html, f"Hot spot {h1.rank} (") == [
        "3",
        "2",
        "2",
        "67%",
        "45",
        "20",
        "2",
        "30",
        "20",
        "0",
        "0",
        "0",
    ]
    assert cells(html, f"Hot spot {h2.rank} (") == [
        "3",
        "1",
        "1",
        "33%",
        "45",
        "3",
        "0",
        "3",
        "3",
        "0",
        "0",
        "6",
    ]
    assert cells(html, f"Hot spot {h3.rank} (") == [
        "0",
        "0",
        "0",
        "—",
        "0",
        "0",
        "0",
        "10",
        "10",
        "10",
        "15",
        "0",
    ]
    assert cells(html, "All 3 rows") == [
        "6",
        "3",
        "3",
        "50%",
        "90",
        "23",
        "2",
        "43",
        "33",
        "10",
        "15",
        "6",
    ]
    assert "<caption>Compliance by hot spot, 10 Nov 2026 to 10 Nov 2026</caption>" in html
    assert "never counted as absence" in html
    assert "Download GeoJSON" in html
    # Charts are inline SVG with an accessible name.
    assert 'role="img" aria-label="Dose by hour of day' in html


def test_the_page_defaults_to_the_last_seven_days_to_yesterday(supervisor: Any) -> None:
    html = client_for(supervisor).get(reverse("reports:compliance")).content.decode()
    yesterday = timezone.localdate() - timedelta(days=1)
    first = yesterday - timedelta(days=6)
    assert f'value="{first.isoformat()}"' in html
    assert f'value="{yesterday.isoformat()}"' in html
    assert "Nothing to show" in html  # and the empty state says what to do
    assert "Try a longer range" in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2026-11-10", "to": "2026-11-01"}, "The last day is before the first day."),
        ({"from": "2024-01-01", "to": "2026-11-01"}, f"At most {MAX_REPORT_DAYS} days at once"),
        ({"from": "yesterday", "to": "2026-11-01"}, "Enter a valid date."),
        ({"from": "2026-11-01", "to": "2026-11-02", "by": "badge"}, "Select a valid choice."),
        ({"from": "2026-11-01", "to": "2099-01-01"}, "the future has no patrols yet"),
    ],
)
def test_bad_ranges_get_friendly_errors(supervisor: Any, query: dict, message: str) -> None:
    response = client_for(supervisor).get(reverse("reports:compliance"), query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_officer_grouping_shows_streak_columns_and_the_prescriptions(
    hand_built_day: dict, supervisor: Any, stranger: Any
) -> None:
    compliance_day_rebuild(day=DAY)
    html = (
        client_for(supervisor)
        .get(reverse("reports:compliance"), {**RANGE, "by": "officer"})
        .content.decode()
    )
    o1 = hand_built_day["o1"]
    label = f"{o1.get_full_name()} ("
    # o1: 2 missions prescribed and 2 visits delivered: the day is met, a streak of 1.
    assert cells(html, label)[:4] == ["2", "2", "2", "100%"]  # prescribed, delivered, on target
    assert cells(html, label)[-1] == "1 (best 1)"
    assert "Streak (days)" in html
    assert "Zed Stranger" in html  # supervisors see every squad
    assert "GeoJSON is offered for the hot spot grouping only" in html


def test_a_sergeant_sees_only_their_squads_officers(hand_built_day: dict, stranger: Any) -> None:
    squad = hand_built_day["squad"]
    c = client_for(squad.sergeant)
    html = c.get(reverse("reports:compliance"), {**RANGE, "by": "officer"}).content.decode()
    assert hand_built_day["o1"].get_full_name() in html
    assert hand_built_day["o2"].get_full_name() in html
    assert "Zed Stranger" not in html
    assert "All 2 rows" in html
    export = c.get(reverse("reports:compliance-csv"), {**RANGE, "by": "officer"})
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert not any("Stranger" in cell for row in rows for cell in row)
    # Hot spot dose is everyone's: h1's 12 extra minutes by the stranger are in it.
    html = c.get(reverse("reports:compliance"), {**RANGE, "by": "hotspot"}).content.decode()
    assert cells(html, f"Hot spot {hand_built_day['h'][0].rank} (")[:2] == ["3", "3"]
    # And a sergeant cannot recompute.
    assert "A supervisor or analyst can recompute them." in html
    assert c.post(reverse("reports:compliance-recompute"), RANGE).status_code == 403


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("reports:compliance", "get"),
        ("reports:compliance-csv", "get"),
        ("reports:compliance-geojson", "get"),
        ("reports:compliance-recompute", "post"),
        ("reports:squad", "get"),
        ("reports:squad-csv", "get"),
    ],
)
def test_an_officer_gets_403_and_no_data_on_every_page(
    hand_built_day: dict, name: str, method: str
) -> None:
    c = client_for(hand_built_day["o1"])
    response = getattr(c, method)(reverse(name), {**RANGE, "by": "hotspot"})
    assert response.status_code == 403
    body = response.content.decode()
    assert "Hot spot 1" not in body and "prescribed" not in body.lower()
    assert not ComplianceRecompute.objects.exists()


def test_csv_export_neutralizes_formula_cells_and_has_a_totals_row(
    hand_built_day: dict, supervisor: Any
) -> None:
    o1 = hand_built_day["o1"]
    o1.first_name, o1.last_name = "=HYPERLINK(1)", "@evil"
    o1.save()
    response = client_for(supervisor).get(
        reverse("reports:compliance-csv"), {**RANGE, "by": "officer"}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:5] == [
        "officer",
        "label",
        "prescribed_visits",
        "delivered_visits",
        "pct_delivered",
    ]
    assert rows[0][-2:] == ["streak_current", "streak_longest"]
    evil = next(r for r in rows if "HYPERLINK" in r[1])
    assert evil[1].startswith("'=HYPERLINK(1)")
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    assert rows[-1][:4] == ["total", "All", "3", "3"]


def test_hot_spot_csv_matches_the_hand_count(hand_built_day: dict, supervisor: Any) -> None:
    h1 = hand_built_day["h"][0]
    text = client_for(supervisor).get(reverse("reports:compliance-csv"), RANGE).content.decode()
    rows = {r["hotspot"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows[str(h1.pk)]["delivered_minutes"] == "20.0"
    assert rows[str(h1.pk)]["officer_minutes"] == "30.0"
    assert rows["total"]["contamination_minutes"] == "15.0"


def test_geojson_export_is_valid_with_hot_spot_polygons(
    hand_built_day: dict, supervisor: Any
) -> None:
    c = client_for(supervisor)
    response = c.get(reverse("reports:compliance-geojson"), RANGE)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    fc = json.loads(response.content)
    assert fc["type"] == "FeatureCollection"
    by_id = {f["id"]: f for f in fc["features"]}
    h1, h2, h3, _ = hand_built_day["h"]
    assert set(by_id) == {h1.pk, h2.pk, h3.pk}
    for f in fc["features"]:
        assert f["type"] == "Feature"
        geom = shape(f["geometry"])
        assert geom.geom_type == "Polygon" and geom.is_valid and geom.area > 0
        lon, lat = geom.centroid.x, geom.centroid.y
        assert -180 <= lon <= 180 and -90 <= lat <= 90
    assert by_id[h1.pk]["properties"]["delivered_minutes"] == pytest.approx(20.0)
    assert by_id[h3.pk]["properties"]["contamination_minutes"] == pytest.approx(15.0)
    other = c.get(reverse("reports:compliance-geojson"), {**RANGE, "by": "squad"})
    assert other.status_code == 400
    assert "hot spot grouping only" in other.content.decode()


def test_staleness_and_recompute_with_progress(
    hand_built_day: dict, supervisor: Any, django_capture_on_commit_callbacks: Any
) -> None:
    c = client_for(supervisor)
    html = c.get(reverse("reports:compliance"), RANGE).content.decode()
    assert "No daily rows are stored for these days yet" in html
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = c.post(reverse("reports:compliance-recompute"), {**RANGE, "by": "squad"})
    assert len(callbacks) == 1
    job = ComplianceRecompute.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"by=squad&job={job.pk}")
    assert (job.status, job.days_done, job.percent) == ("done", 1, 100)
    html = c.get(response["Location"]).content.decode()
    assert 'computed <strong id="computed-ago">less than a minute ago</strong>' in html
    assert "have no stored rows yet" not in html  # every day of the range is stored
    # With the stored rows, the chart by squad and its table appear.
    assert 'aria-label="Compliance by squad' in html
    assert cells(html, f">{hand_built_day['squad'].name}</th>")[:4] == ["3", "3", "3", "100%"]


def test_recompute_refuses_a_bad_range(supervisor: Any) -> None:
    response = client_for(supervisor).post(
        reverse("reports:compliance-recompute"),
        {"from": "2026-11-10", "to": "2026-11-01"},
        follow=True,
    )
    assert "The last day is before the first day." in response.content.decode()
    assert not ComplianceRecompute.objects.exists()


def test_the_squad_page_shows_the_shift_and_links_the_live_map(hand_built_day: dict) -> None:
    squad = hand_built_day["squad"]
    o1 = hand_built_day["o1"]
    # A visit this shift (the hand-built day is in the past).
    start = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0)
    if timezone.localtime().hour < 7:
        start -= timedelta(days=1)
    make_visit(hand_built_day["h"][0], start, 12, officer=o1, koper=True)
    html = client_for(squad.sergeant).get(reverse("reports:squad")).content.decode()
    assert f"{squad.name}: shift of" in html
    row = html.split(f'data-officer="{o1.pk}"')[1].split("</tr>")[0]
    assert "Hot spot 1</a>, 09:00, 12 min" in row
    assert "Koper: yes" in row
    assert f'data-live-url="{reverse("api-presence-live")}?squad={squad.pk}"' in html
    assert "audit log" in html
    # The shift's visits as CSV: an audited export of location data.
    no_reason = client_for(squad.sergeant).get(reverse("reports:squad-csv"), {"squad": squad.pk})
    assert no_reason.status_code == 400
    assert no_reason.content.decode() == "Bad request: reason: This field is required."
    assert not AuditEvent.objects.filter(action="visits.export").exists()
    export = client_for(squad.sergeant).get(
        reverse("reports:squad-csv"), {"squad": squad.pk, "reason": "complaint 2026-118"}
    )
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0] == [
        "officer",
        "badge",
        "hotspot_id",
        "hotspot_rank",
        "arm",
        "entered_at",
        "minutes",
        "koper",
    ]
    assert [r[3:4] + r[6:] for r in rows[1:]] == [["1", "12.0", "yes"]]
    exported = AuditEvent.objects.get(action="visits.export", actor=squad.sergeant)
    assert exported.after["reason"] == "complaint 2026-118"


def test_a_sergeant_cannot_open_another_squads_page(hand_built_day: dict) -> None:
    other = SquadFactory()
    c = client_for(hand_built_day["squad"].sergeant)
    html = c.get(reverse("reports:squad"), {"squad": other.pk}).content.decode()
    assert other.name not in html
    assert hand_built_day["squad"].name in html


def test_the_board_and_the_landing_page_link_the_squad_page(hand_built_day: dict) -> None:
    c = client_for(hand_built_day["squad"].sergeant)
    url = reverse("reports:squad")
    assert (
        f'href="{url}?squad={hand_built_day["squad"].pk}"'
        in c.get(reverse("missions:board")).content.decode()
    )
    home = c.get(reverse("home")).content.decode()
    assert f'href="{url}"' in home
    assert f'href="{reverse("reports:compliance")}"' in home


def test_dose_by_hour_splits_visits_at_the_hour_and_counts_company_once(
    hand_built_day: dict,
) -> None:
    from backend.reports.selectors import dose_by_hour

    h1 = hand_built_day["h"][0]
    make_visit(h1, at(10, 50), 20, officer=hand_built_day["o1"])  # 10 min in hour 10, 10 in 11
    minutes = dose_by_hour(first=DAY, last=DAY)
    # 09: h1 09:00-09:20 by two officers together = 20; 10: h2's 3 + h1's 10; 11: 10.
    # h3 is a control hot spot and the car is AVL: neither is dose.
    assert minutes[9] == pytest.approx(20.0)
    assert minutes[10] == pytest.approx(13.0)
    assert minutes[11] == pytest.approx(10.0)
    assert minutes.sum() == pytest.approx(43.0)
    squad_only = dose_by_hour(first=DAY, last=DAY, squad_ids=[0])
    assert squad_only.sum() == 0


@pytest.mark.parametrize(
    ("totals", "sentence"),
    [
        (
            {
                "prescribed_visits": 300,
                "delivered_visits": 212,
                "on_target_visits": 212,
                "koper_visits": 64,
            },
            "In the 7 days to 30 Nov 2026, officers delivered 212 of 300 prescribed visits (71%); "
            "64 were Koper-compliant (10-16 min).",
        ),
        # 241 visits, but only 98 fell on a hot spot-day that still needed one: 98 of 105.
        (
            {
                "prescribed_visits": 105,
                "delivered_visits": 241,
                "on_target_visits": 98,
                "koper_visits": 1,
            },
            "In the 7 days to 30 Nov 2026, officers delivered 98 of 105 prescribed visits (93%) "
            "(143 more went beyond a day's prescription); 1 was Koper-compliant (10-16 min).",
        ),
        (
            {
                "prescribed_visits": 0,
                "delivered_visits": 0,
                "on_target_visits": 0,
                "koper_visits": 0,
            },
            "In the 7 days to 30 Nov 2026, no visit was prescribed and none was recorded.",
        ),
    ],
)
def test_the_sentence_reads_plainly(totals: dict, sentence: str) -> None:
    from datetime import date

    from backend.reports.selectors import compliance_sentence

    first, last = date(2026, 11, 24), date(2026, 11, 30)
    assert compliance_sentence(first=first, last=last, totals=totals) == sentence
