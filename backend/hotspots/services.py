"""Hot spot analyses (create, execute, publish) and harm index versions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from shapely.geometry import mapping, shape

from backend.accounts.maps import polygon_check
from backend.accounts.models import District
from backend.analytics.briefing import make_briefing
from backend.analytics.grid import AnalysisResult, Grid, analyze, cells_polygon, stability
from backend.analytics.projection import LocalProjection
from backend.analytics.timeparts import local_parts
from backend.analytics.timewindow import parse_window
from backend.audit.services import audit_record
from backend.config.localtime import agency_zone, local_day_bounds
from backend.hotspots.address import coordinates_words, hotspot_addresses
from backend.hotspots.models import AnalysisRun, GridCell, Hotspot
from backend.hotspots.tactics import tactics_for
from backend.incidents.models import HarmWeight, ImportStatus, OffenceType
from backend.incidents.selectors import IncidentPoints, harm_version_current, incident_points

CELL_INSERT_BATCH = 2_000  # 9 columns x 2,000 rows stays under SQLite's 32,766 parameters
RECENT_INCIDENTS = 5


@dataclass(frozen=True)
class AnalysisParams:
    as_of: date
    lookback_days: int = 365
    cell_size_m: float = 150.0
    top_k: int = 20
    window: str = ""
    district_id: int | None = None


def _validate(params: AnalysisParams) -> None:
    errors: dict[str, str] = {}
    if not 1 <= params.lookback_days <= 3660:
        errors["lookback_days"] = "must be between 1 and 3660 days"
    if not 10 <= params.cell_size_m <= 2000:
        errors["cell_size_m"] = "must be between 10 and 2000 metres"
    if not 1 <= params.top_k <= 500:
        errors["top_k"] = "must be between 1 and 500"
    if params.window:
        try:
            parse_window(params.window)
        except ValueError as exc:
            errors["window"] = str(exc)
    if (
        params.district_id is not None
        and not District.objects.filter(pk=params.district_id).exists()
    ):
        errors["district"] = f"no district with id {params.district_id}"
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def analysis_create(
    *, params: AnalysisParams, actor: Any = None, publish: bool = False
) -> AnalysisRun:
    """Validate ``params`` and store a pending run (``analysis_execute`` computes it)."""
    _validate(params)
    run = AnalysisRun.objects.create(
        created_by=actor if getattr(actor, "pk", None) else None,
        as_of=params.as_of,
        lookback_days=params.lookback_days,
        cell_size_m=params.cell_size_m,
        top_k=params.top_k,
        window=params.window,
        district_id=params.district_id,
        weights_version=harm_version_current(),
        publish_requested=publish,
    )
    audit_record(actor=actor, action="analysis.create", obj=run, after=params.__dict__)
    return run


def _period(as_of: date, lookback_days: int) -> tuple[datetime, datetime]:
    """[start, end) of the look-back: the ``lookback_days`` local days before ``as_of``."""
    return local_day_bounds(as_of - timedelta(days=lookback_days))[0], local_day_bounds(as_of)[0]


@dataclass(frozen=True, eq=False)
class _Computed:
    points: IncidentPoints
    harm: np.ndarray
    result: AnalysisResult | None
    proj: LocalProjection


def _compute(run: AnalysisRun, start: datetime, end: datetime) -> _Computed:
    """Load the period's incidents, apply the window, and run the grid analysis."""
    points = incident_points(start=start, end=end, district_id=run.district_id)
    weights = dict(
        HarmWeight.objects.filter(version=run.weights_version).values_list("offence_id", "days")
    )
    proj = LocalProjection(*settings.PRESENCE_ORIGIN)
    parts = local_parts(points.t, agency_zone().key)
    keep = np.ones(points.size, dtype=bool)
    if run.window:
        keep = parse_window(run.window).mask(parts.weekday, parts.minute_of_day)
    points = IncidentPoints(
        *(getattr(points, f)[keep] for f in ("ids", "t", "lat", "lon", "offence_id", "district_id"))
    )
    harm_lookup = np.zeros(max(weights, default=0) + 1)
    for offence_id, days in weights.items():
        harm_lookup[offence_id] = days
    known = points.offence_id < harm_lookup.size
    harm = np.where(known, harm_lookup[np.minimum(points.offence_id, harm_lookup.size - 1)], 0.0)
    if points.size == 0:
        return _Computed(points, harm, None, proj)

    offence_ids = np.unique(points.offence_id)
    category = np.searchsorted(offence_ids, points.offence_id)
    x, y = proj.to_xy(points.lat, points.lon)
    zone_of = None if run.district_id is not None else _district_zones(proj)
    result = analyze(
        x,
        y,
        harm,
        category,
        int(offence_ids.size),
        parts.hour[keep],
        parts.weekday[keep],
        points.t,
        cell_size=run.cell_size_m,
        k=run.top_k,
        cell_zone_of=zone_of,
    )
    return _Computed(points, harm, result, proj)


def _district_zones(proj: LocalProjection) -> Any:
    """A ``cell_zone_of`` for ``analyze``: each cell's district by its centre (-1: none).

    With no districts defined the whole grid is one zone, so top-K applies city-wide.
    """
    districts = list(District.objects.order_by("pk").values_list("boundary", flat=True))

    def zone_of(grid: Grid) -> np.ndarray:
        if not districts:
            return np.zeros(grid.shape, dtype=np.int64)
        iy, ix = np.indices(grid.shape)
        cx = grid.x0 + (ix + 0.5) * grid.cell_size
        cy = grid.y0 + (iy + 0.5) * grid.cell_size
        lat, lon = proj.to_latlon(cx, cy)
        zone = np.full(grid.shape, -1, dtype=np.int64)
        for i, boundary in enumerate(districts):
            zone[shapely.contains_xy(shape(boundary), lon, lat)] = i
        return zone

    return zone_of


def _global_hot_cells(result: AnalysisResult | None) -> set[tuple[int, int]]:
    if result is None:
        return set()
    return {c for h in result.hotspots for c in result.grid.to_global(h.cells)}


def analysis_execute(*, run_id: int) -> AnalysisRun:
    """Compute run ``run_id`` and store its cells and hot spots; idempotent.

    A run that is already done is returned unchanged. Everything is written in one
    transaction, so a failure leaves the run ``failed`` with its error and no partial rows.
    """
    run = AnalysisRun.objects.select_related("weights_version").get(pk=run_id)
    if run.status == ImportStatus.DONE:
        return run
    AnalysisRun.objects.filter(pk=run.pk).update(status=ImportStatus.RUNNING, error="")
    try:
        with transaction.atomic():
            _execute(run)
    except Exception as exc:
        AnalysisRun.objects.filter(pk=run.pk).update(
            status=ImportStatus.FAILED,
            error=f"{exc.__class__.__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    run.refresh_from_db()
    if run.publish_requested and run.hotspots.exists():
        analysis_publish(run_id=run.pk, actor=run.created_by)
        run.refresh_from_db()
    return run


def _execute(run: AnalysisRun) -> None:
    start, end = _period(run.as_of, run.lookback_days)
    current = _compute(run, start, end)
    previous = _compute(run, start - (end - start), start)
    GridCell.objects.filter(run=run).delete()
    Hotspot.objects.filter(run=run).delete()
    res = current.result
    stab = stability(_global_hot_cells(res), _global_hot_cells(previous.result))
    stability_json = {
        "retained_share": stab.retained_share,
        "jaccard": stab.jaccard,
        "cells_now": stab.n_current,
        "cells_before": stab.n_previous,
        "cells_in_both": stab.n_common,
        "previous_incidents": previous.points.size,
    }
    if res is None:
        AnalysisRun.objects.filter(pk=run.pk).update(
            status=ImportStatus.DONE,
            incidents_analysed=0,
            concentration={},
            stability=stability_json,
            finished_at=timezone.now(),
            grid={"cell_size_m": run.cell_size_m, "nx": 0, "ny": 0},
        )
        return

    grid = res.grid
    offence_ids = np.unique(current.points.offence_id)
    offences = OffenceType.objects.in_bulk([int(i) for i in offence_ids])
    harm_total = float(res.harm.sum())

    # Cells: every non-empty cell, with the rank of the hot spot it belongs to.
    rank_of_cell = {}
    for h in res.hotspots:
        for iy, ix in h.cells:
            rank_of_cell[(iy, ix)] = h.rank
    iy_all, ix_all = np.nonzero(res.count)
    cx = grid.x0 + (ix_all + 0.5) * grid.cell_size
    cy = grid.y0 + (iy_all + 0.5) * grid.cell_size
    clat, clon = current.proj.to_latlon(cx, cy)
    cells = [
        GridCell(
            run=run,
            ix=int(ix + grid.i0),
            iy=int(iy + grid.j0),
            lat=round(float(clat[i]), 6),
            lon=round(float(clon[i]), 6),
            count=int(res.count[iy, ix]),
            harm=float(res.harm[iy, ix]),
            gi_z=round(float(res.z[iy, ix]), 6),
            hotspot_rank=rank_of_cell.get((int(iy), int(ix))),
        )
        for i, (iy, ix) in enumerate(zip(iy_all, ix_all, strict=True))
    ]
    GridCell.objects.bulk_create(cells, batch_size=CELL_INSERT_BATCH)

    # Hot spots with their briefings.
    tz = agency_zone()
    district_of = current.points.district_id
    district_shapes = [(pk, shape(b)) for pk, b in District.objects.values_list("pk", "boundary")]
    n_h = len(res.hotspots)
    hotspots = []
    member_ids: dict[int, list[int]] = {}
    for i, h in enumerate(res.hotspots):
        members = np.flatnonzero(res.member == i)
        by_offence = {
            offences[int(offence_ids[c])].name: int(n)
            for c, n in enumerate(res.category_counts[i])
            if n
        }
        member_harm = np.bincount(
            np.searchsorted(offence_ids, current.points.offence_id[members]),
            weights=current.harm[members],
            minlength=offence_ids.size,
        )
        harm_by_offence = {
            offences[int(offence_ids[c])].name: float(v) for c, v in enumerate(member_harm) if v
        }
        harm_by_group: dict[str, float] = {}
        for c, v in enumerate(member_harm):
            g = offences[int(offence_ids[c])].group
            harm_by_group[g] = harm_by_group.get(g, 0.0) + float(v)
        top_group = max(harm_by_group, key=lambda g: harm_by_group[g]) if harm_by_group else ""
        newest = members[np.argsort(-current.points.t[members], kind="stable")[:RECENT_INCIDENTS]]
        recent = [
            {
                "when": datetime.fromtimestamp(float(current.points.t[j]), tz=tz).strftime(
                    "%a %d %b %Y %H:%M"
                ),
                "offence": offences[int(current.points.offence_id[j])].name,
            }
            for j in newest
        ]
        polygon_xy = cells_polygon(h.cells, grid)
        polygon = current.proj.geometry_to_lonlat(polygon_xy)
        centre = polygon.centroid
        briefing = make_briefing(
            rank=h.rank,
            n_hotspots=n_h,
            harm=h.harm,
            count=h.count,
            harm_share=h.harm / harm_total if harm_total else 0.0,
            counts_by_offence=by_offence,
            profile=res.profile_count[i],
            lookback_days=run.lookback_days,
            recent=recent,
            tactics=tactics_for(top_group),
            harm_by_offence=harm_by_offence,
        )
        districts = district_of[members]
        member_ids[i] = current.points.ids[members].tolist()
        hotspots.append(
            Hotspot(
                run=run,
                rank=h.rank,
                district_id=run.district_id
                or _district_containing(district_shapes, centre)
                or _most_common(districts),
                geometry=_rounded(mapping(polygon)),
                centroid_lat=round(centre.y, 6),
                centroid_lon=round(centre.x, 6),
                cells=[[gx, gy] for gy, gx in grid.to_global(h.cells)],  # [ix, iy] like GridCell
                harm=h.harm,
                incident_count=h.count,
                counts_by_offence=by_offence,
                profile_24x7=res.profile_count[i].tolist(),
                last_incident_at=datetime.fromtimestamp(float(res.last_incident_t[i]), tz=tz),
                gi_z_max=round(h.z_max, 6),
                briefing=briefing.as_dict(),
            )
        )
    addresses = hotspot_addresses(
        member_ids, {i: (h.centroid_lat, h.centroid_lon) for i, h in enumerate(hotspots)}
    )
    for i, spot in enumerate(hotspots):
        spot.address = addresses[i]
    Hotspot.objects.bulk_create(hotspots)

    conc = res.concentration
    AnalysisRun.objects.filter(pk=run.pk).update(
        status=ImportStatus.DONE,
        incidents_analysed=current.points.size,
        concentration={
            "harm_share": conc.harm_share,
            "area_share": conc.area_share_nonempty,
            "area_share_grid": conc.area_share_grid,
            "sentence": conc.sentence,
            "harm_total": harm_total,
            "cells_nonempty": int(np.count_nonzero(res.count)),
            "cells_selected": sum(len(h.cells) for h in res.hotspots),
        },
        stability=stability_json,
        grid={
            "cell_size_m": grid.cell_size,
            "i0": grid.i0,
            "j0": grid.j0,
            "nx": grid.nx,
            "ny": grid.ny,
            "origin": list(settings.PRESENCE_ORIGIN),
        },
        finished_at=timezone.now(),
    )


def _district_containing(districts: list[tuple[int, Any]], point: Any) -> int | None:
    """The district whose boundary contains ``point`` (the hot spot's centroid), if any."""
    return next((pk for pk, boundary in districts if boundary.contains(point)), None)


def _most_common(values: np.ndarray) -> int | None:
    known = values[values >= 0]
    if known.size == 0:
        return None
    ids, counts = np.unique(known, return_counts=True)
    return int(ids[np.argmax(counts)])


def _rounded(geojson: Mapping[str, Any]) -> dict[str, Any]:
    """GeoJSON with coordinates rounded to 1e-6 degrees (~0.1 m)."""

    def rnd(c: Any) -> Any:
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            return [round(float(v), 6) for v in c]
        return [rnd(x) for x in c]

    return {"type": geojson["type"], "coordinates": rnd(geojson["coordinates"])}


@transaction.atomic
def analysis_publish(*, run_id: int, actor: Any = None) -> AnalysisRun:
    """Make run ``run_id``'s hot spots the active ones (the only active run); audited."""
    run = AnalysisRun.objects.select_for_update().get(pk=run_id)
    if run.status != ImportStatus.DONE:
        raise ValidationError({"run": "only a finished analysis can be published"})
    previous = list(AnalysisRun.objects.filter(is_active=True).exclude(pk=run.pk))
    AnalysisRun.objects.filter(is_active=True).exclude(pk=run.pk).update(is_active=False)
    run.is_active = True
    run.published_at = timezone.now()
    run.save(update_fields=["is_active", "published_at"])
    audit_record(
        actor=actor,
        action="analysis.publish",
        obj=run,
        before={"active_runs": [r.pk for r in previous]},
        after={"active_run": run.pk},
    )
    return run


@transaction.atomic
def hotspot_hand_drawn_save(*, hotspot: Hotspot, actor: Any = None) -> Hotspot:
    """Save an analyst's hand-drawn hot spot (a known trouble spot the Gi* run did not find).

    It joins the active analysis (so missions, visits and reports treat it like the others),
    ranked after every computed hot spot, flagged ``hand_drawn``; its shape must be a valid
    polygon inside the agency area. Harm and counts stay 0: nothing was computed. Audited.
    """
    try:
        geometry, geom = polygon_check(hotspot.geometry, what="The hot spot")
    except ValidationError as exc:
        raise ValidationError({"geometry": exc.messages}) from exc
    before = None
    if hotspot.pk:
        before = Hotspot.objects.filter(pk=hotspot.pk).values("geometry", "note").first()
    else:
        run = AnalysisRun.objects.select_for_update().filter(is_active=True).first()
        if run is None:
            raise ValidationError(
                "There is no published analysis: publish one before drawing hot spots by hand."
            )
        last = run.hotspots.order_by("-rank").values_list("rank", flat=True).first() or 0
        hotspot.run = run
        hotspot.rank = last + 1
        hotspot.harm = 0.0
        hotspot.incident_count = 0
        hotspot.gi_z_max = 0.0
        hotspot.counts_by_offence = {}
        hotspot.cells = []
    hotspot.hand_drawn = True
    hotspot.geometry = _rounded(geometry)
    centroid = geom.centroid
    hotspot.centroid_lat, hotspot.centroid_lon = float(centroid.y), float(centroid.x)
    districts = [(pk, shape(b)) for pk, b in District.objects.values_list("pk", "boundary")]
    hotspot.district_id = _district_containing(districts, centroid)
    # Drawn, not computed from incidents: where it is in words is its centre's coordinates.
    hotspot.address = coordinates_words(hotspot.centroid_lat, hotspot.centroid_lon)
    hotspot.briefing = {
        **(hotspot.briefing or {}),
        "headline": f"Hot spot {hotspot.rank} (hand-drawn)",
        "why_here": hotspot.note or "Drawn by an analyst.",
        "one_line": f"Hand-drawn: {hotspot.note}" if hotspot.note else "Hand-drawn by an analyst",
        "hand_drawn": True,
    }
    hotspot.save()
    audit_record(
        actor=actor,
        action="hotspot.draw" if before is None else "hotspot.redraw",
        obj=hotspot,
        before=before,
        after={"geometry": hotspot.geometry, "note": hotspot.note},
    )
    return hotspot
