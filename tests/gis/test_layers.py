"""GIS files read back by independent readers: the GeoPackage through sqlite3 (the format's own
tables, WKB after the GeoPackage header, parsed by shapely), GeoJSON through json, CSV through
csv + WKT; features and fields must match what was written."""

from __future__ import annotations

import csv
import json
import sqlite3
import struct
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import shapely
from django.core.management import CommandError, call_command
from django.utils import timezone
from shapely.geometry import MultiPolygon, box, shape

from backend.accounts.models import Beat, District
from backend.gis.layers import Layer, gpkg_write, layer_write
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import HarmWeightVersion
from backend.missions.models import Allocation, Experiment
from tests.factories import DistrictFactory, UserFactory

ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def read_gpkg(path: Path) -> dict[str, Any]:
    """The GeoPackage's layer, CRS, columns and features, read with sqlite3 alone."""
    con = sqlite3.connect(path)
    try:
        (table, data_type, srs_id) = con.execute(
            "SELECT table_name, data_type, srs_id FROM gpkg_contents"
        ).fetchone()
        (geom_col, geom_type, g_srs) = con.execute(
            "SELECT column_name, geometry_type_name, srs_id FROM gpkg_geometry_columns "
            "WHERE table_name = ?",
            (table,),
        ).fetchone()
        (organization, org_id) = con.execute(
            "SELECT organization, organization_coordsys_id FROM gpkg_spatial_ref_sys "
            "WHERE srs_id = ?",
            (srs_id,),
        ).fetchone()
        columns = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
        rows = con.execute(f'SELECT * FROM "{table}" ORDER BY fid').fetchall()
    finally:
        con.close()
    features = []
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        blob = record.pop(geom_col)
        assert blob[:2] == b"GP"
        flags = blob[3]
        (blob_srs,) = struct.unpack("<i" if flags & 1 else ">i", blob[4:8])
        assert blob_srs == srs_id
        geom = shapely.from_wkb(bytes(blob[8 + ENVELOPE_BYTES[(flags >> 1) & 0x07] :]))
        record.pop("fid")
        features.append((geom, record))
    return {
        "table": table,
        "data_type": data_type,
        "crs": f"{organization.upper()}:{org_id}",
        "geometry_type": geom_type,
        "geometry_srs": g_srs,
        "fields": columns,
        "features": features,
    }


SQUARE = box(-80.22, 25.79, -80.20, 25.81)
TWO = MultiPolygon([box(-80.25, 25.75, -80.24, 25.76), box(-80.23, 25.75, -80.22, 25.76)])
LAYER = Layer(
    name="test_layer",
    fields=["name", "rank", "harm", "hand_drawn", "note"],
    features=[
        (SQUARE, {"name": "Downtown", "rank": 1, "harm": 12.5, "hand_drawn": False, "note": None}),
        (TWO, {"name": "Docks", "rank": 2, "harm": 0.0, "hand_drawn": True, "note": "=cmd()"}),
    ],
)


def test_a_geopackage_reads_back_with_sqlite3_its_crs_fields_and_geometries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.gpkg"
    assert gpkg_write(path, layer=LAYER.name, features=LAYER.features, fields=LAYER.fields) == 2
    got = read_gpkg(path)
    assert (got["table"], got["data_type"], got["crs"]) == ("test_layer", "features", "EPSG:4326")
    # Polygon and MultiPolygon in one layer: promoted to one type, as ArcGIS expects.
    assert got["geometry_type"] == "MULTIPOLYGON" and got["geometry_srs"] == 4326
    assert got["fields"][1:-1] == LAYER.fields or set(LAYER.fields) <= set(got["fields"])
    (g1, r1), (g2, r2) = got["features"]
    assert g1.equals(MultiPolygon([SQUARE])) and g2.equals(TWO)
    assert r1 == {"name": "Downtown", "rank": 1, "harm": 12.5, "hand_drawn": 0, "note": None}
    assert r2 == {"name": "Docks", "rank": 2, "harm": 0.0, "hand_drawn": 1, "note": "=cmd()"}


def test_geojson_and_csv_carry_the_same_fields_and_shapes(tmp_path: Path) -> None:
    layer_write(LAYER, fmt="geojson", path=tmp_path / "out.geojson")
    fc = json.loads((tmp_path / "out.geojson").read_text())
    assert fc["crs"]["properties"]["name"].endswith("CRS84")
    assert [list(f["properties"]) for f in fc["features"]] == [LAYER.fields] * 2
    assert shape(fc["features"][1]["geometry"]).equals(TWO)

    layer_write(LAYER, fmt="csv", path=tmp_path / "out.csv")
    with (tmp_path / "out.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [*LAYER.fields, "centroid_lat", "centroid_lon", "wkt_epsg4326"]
    assert shapely.from_wkt(rows[0]["wkt_epsg4326"]).equals_exact(SQUARE, 1e-7)
    assert rows[1]["note"] == "'=cmd()"  # a spreadsheet will not run it
    assert rows[1]["hand_drawn"] == "1"


@pytest.fixture
def active_run(db: None) -> AnalysisRun:
    district = DistrictFactory(name="Central", code="central")
    version, _ = HarmWeightVersion.objects.get_or_create(number=1)
    run = AnalysisRun.objects.create(
        as_of=date(2026, 1, 1), weights_version=version, is_active=True, status="done"
    )
    for rank, g in ((1, SQUARE), (2, box(-80.23, 25.80, -80.225, 25.805))):
        Hotspot.objects.create(
            run=run,
            rank=rank,
            district=district,
            geometry=shapely.geometry.mapping(g),
            centroid_lat=g.centroid.y,
            centroid_lon=g.centroid.x,
            harm=10.0 / rank,
            incident_count=5,
            gi_z_max=3.1,
            hand_drawn=rank == 2,
        )
    return run


def test_export_gis_hotspots_as_geopackage_matches_the_database(
    active_run: AnalysisRun, tmp_path: Path
) -> None:
    out = tmp_path / "hotspots.gpkg"
    call_command("export_gis", "hotspots", "--format", "gpkg", "--out", str(out))
    got = read_gpkg(out)
    assert got["table"] == "hotspots" and got["crs"] == "EPSG:4326"
    by_rank = {r["rank"]: (g, r) for g, r in got["features"]}
    for h in Hotspot.objects.filter(run=active_run):
        g, r = by_rank[h.rank]
        assert g.equals(shape(h.geometry))
        assert (r["hotspot_id"], r["harm"], r["incidents"], r["district"], r["hand_drawn"]) == (
            h.pk,
            round(h.harm, 3),
            5,
            "Central",
            int(h.hand_drawn),
        )


@pytest.mark.parametrize("fmt", ["geojson", "csv"])
def test_export_gis_writes_every_format_with_the_same_features(
    active_run: AnalysisRun, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"hotspots.{fmt}"
    call_command("export_gis", "hotspots", "--out", str(out))  # format from the extension
    text = out.read_text()
    n = len(json.loads(text)["features"]) if fmt == "geojson" else len(text.splitlines()) - 1
    assert n == 2


def test_export_gis_districts_and_arms(active_run: AnalysisRun, tmp_path: Path) -> None:
    call_command("export_gis", "districts", "--format", "gpkg", "--out", str(tmp_path / "d.gpkg"))
    d = read_gpkg(tmp_path / "d.gpkg")
    assert [r["name"] for _, r in d["features"]] == ["Central"]
    assert d["features"][0][0].equals(shape(District.objects.get().boundary))

    with pytest.raises(CommandError, match="none is running"):
        call_command("export_gis", "arms", "--out", str(tmp_path / "a.gpkg"))
    e = Experiment.objects.create(
        name="Trial",
        run=active_run,
        design="blocked",
        status="running",
        starts_on=date(2026, 1, 5),
        ends_on=date(2026, 3, 5),
        seed=42,
        started_at=timezone.now(),
        created_by=UserFactory(),
    )
    for h in active_run.hotspots.all():
        Allocation.objects.create(
            experiment=e, hotspot=h, arm="treatment" if h.rank == 1 else "control", block="central"
        )
    call_command("export_gis", "arms", "--format", "gpkg", "--out", str(tmp_path / "a.gpkg"))
    arms = read_gpkg(tmp_path / "a.gpkg")
    assert arms["table"] == "arms"
    assert sorted((r["rank"], r["arm"], r["experiment_id"]) for _, r in arms["features"]) == [
        (1, "treatment", e.pk),
        (2, "control", e.pk),
    ]


def feature(name: str, geom: Any, **props: Any) -> dict[str, Any]:
    geometry = shapely.geometry.mapping(geom) if hasattr(geom, "geom_type") else geom
    return {"type": "Feature", "properties": {"name": name, **props}, "geometry": geometry}


BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[-80.22, 25.79], [-80.20, 25.81], [-80.20, 25.79], [-80.22, 25.81], [-80.22, 25.79]]
    ],
}


@pytest.mark.django_db
def test_boundary_import_from_geojson_reports_every_bad_feature_and_saves_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "districts.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    feature("North", SQUARE),
                    feature("Crossed", BOWTIE),
                    feature("Chicago", box(-87.7, 41.8, -87.6, 41.9)),
                    feature("", SQUARE),
                ],
            }
        )
    )
    with pytest.raises(CommandError, match="3 bad feature"):
        call_command("import_boundaries", str(path), "--kind", "district")
    assert not District.objects.exists()


@pytest.mark.django_db
def test_boundary_import_names_the_feature_and_the_reason(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "districts.geojson"
    features = [feature("North", SQUARE), feature("Crossed", BOWTIE)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(CommandError):
        call_command("import_boundaries", str(path), "--kind", "district")
    err = capsys.readouterr().err
    assert "feature 2 (Crossed): The boundary crosses itself" in err


@pytest.mark.django_db
def test_districts_import_from_a_geopackage_and_beats_from_a_zipped_shapefile(
    tmp_path: Path,
) -> None:
    from pyogrio.raw import write

    gpkg = tmp_path / "districts.gpkg"
    gpkg_write(
        gpkg,
        layer="districts",
        fields=["name", "code"],
        features=[(SQUARE, {"name": "North", "code": "N1"})],
    )
    call_command("import_boundaries", str(gpkg), "--kind", "district")
    north = District.objects.get()
    assert (north.name, north.code) == ("North", "n1")
    assert shape(north.boundary).equals(SQUARE)

    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    beats = [box(-80.22, 25.79, -80.21, 25.80), box(-80.21, 25.79, -80.20, 25.80)]
    import numpy as np

    write(
        str(shp_dir / "beats.shp"),
        np.array([shapely.to_wkb(b) for b in beats], dtype=object),
        [np.array(["Beat A", "Beat B"], dtype=object), np.array(["North", "n1"], dtype=object)],
        ["name", "district"],
        driver="ESRI Shapefile",
        crs="EPSG:4326",
        geometry_type="Polygon",
    )
    archive = tmp_path / "beats.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in shp_dir.iterdir():
            z.write(part, part.name)
    call_command("import_boundaries", str(archive), "--kind", "beat", "--code-field", "")
    assert sorted(Beat.objects.values_list("code", "district__code")) == [
        ("beat-a", "n1"),
        ("beat-b", "n1"),
    ]
    assert shape(Beat.objects.get(code="beat-a").boundary).equals(beats[0])


@pytest.mark.django_db
def test_a_boundary_file_in_another_crs_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "utm.gpkg"
    import numpy as np
    from pyogrio.raw import write

    write(
        str(path),
        np.array([shapely.to_wkb(box(580000, 2850000, 581000, 2851000))], dtype=object),
        [np.array(["X"], dtype=object)],
        ["name"],
        driver="GPKG",
        crs="EPSG:32617",
        geometry_type="Polygon",
    )
    with pytest.raises(CommandError, match="EPSG:32617"):
        call_command("import_boundaries", str(path), "--kind", "district")


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "csv"])
def test_the_api_offers_the_hotspot_layer_in_every_format(
    active_run: AnalysisRun, tmp_path: Path, fmt: str
) -> None:
    from django.test import Client

    from backend.accounts.models import Role

    client = Client()
    client.force_login(UserFactory(role=Role.ANALYST))
    response = client.get(f"/api/v1/analyses/{active_run.pk}/hotspots-gis.{fmt}")
    assert response.status_code == 200
    assert f'filename="hotspots-{active_run.pk}.{fmt}"' in response["Content-Disposition"]
    path = tmp_path / f"h.{fmt}"
    path.write_bytes(response.content)
    if fmt == "gpkg":
        assert len(read_gpkg(path)["features"]) == 2
    elif fmt == "geojson":
        assert len(json.loads(path.read_text())["features"]) == 2
    else:
        assert len(path.read_text().splitlines()) == 3
    assert client.get(f"/api/v1/analyses/{active_run.pk}/hotspots-gis.shp").status_code == 404


def test_backend_gis_imports_no_app_so_every_app_may_use_it() -> None:
    from tests.conftest import REPO

    for path in (REPO / "backend" / "gis").glob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("from backend.", "import backend.")):
                assert stripped.startswith(("from backend.gis", "import backend.gis")), (
                    f"{path.name}: {stripped}"
                )


@pytest.mark.django_db
def test_the_api_offers_district_and_beat_boundaries_as_a_geopackage(tmp_path: Path) -> None:
    from django.test import Client

    DistrictFactory(name="Central", code="central")
    client = Client()
    client.force_login(UserFactory())
    response = client.get("/api/v1/districts-gis.gpkg")
    assert response.status_code == 200
    (tmp_path / "d.gpkg").write_bytes(response.content)
    got = read_gpkg(tmp_path / "d.gpkg")
    assert (got["table"], [r["code"] for _, r in got["features"]]) == ("districts", ["central"])
    assert client.get("/api/v1/beats-gis.csv").content.decode().startswith("beat_id,name,code")
