"""Active hot spots near a position with today's dose ("due", "done", "control").

It lives in missions, above hotspots, because it joins the hot spots (``hotspots_nearby``) with
the missions' dose for today (``hotspot_dose_today``); the path stays /api/v1/hotspots/nearby.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.config.api import MAX_LAT
from backend.hotspots.selectors import hotspots_nearby
from backend.missions.selectors import hotspot_dose_today

MAX_NEARBY_RADIUS_M = 20_000


class HotspotNearbyApi(APIView):
    """Active hot spots within ``radius_m`` of a position, nearest first."""

    class NearbyInputSerializer(serializers.Serializer):
        lat = serializers.FloatField(min_value=-MAX_LAT, max_value=MAX_LAT)
        lon = serializers.FloatField(min_value=-180, max_value=180)
        radius_m = serializers.FloatField(min_value=1, max_value=MAX_NEARBY_RADIUS_M, default=2000)

    class NearbyOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        rank = serializers.IntegerField()
        harm = serializers.FloatField()
        distance_m = serializers.FloatField()
        reason = serializers.CharField()
        address = serializers.CharField()
        street_brief = serializers.CharField()
        visit_due = serializers.CharField()
        centroid_lat = serializers.FloatField()
        centroid_lon = serializers.FloatField()
        geometry = serializers.JSONField()

    @extend_schema(
        parameters=[
            OpenApiParameter("lat", float, required=True),
            OpenApiParameter("lon", float, required=True),
            OpenApiParameter("radius_m", float, description="Default 2000, at most 20000."),
        ],
        responses=NearbyOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        params = self.NearbyInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        found = hotspots_nearby(**params.validated_data)
        doses = hotspot_dose_today(hotspot_ids=[h.pk for h, _ in found])
        rows = [
            {
                "id": h.pk,
                "rank": h.rank,
                "harm": h.harm,
                "distance_m": round(d, 1),
                "reason": h.briefing.get("one_line", ""),
                "address": h.place,
                "street_brief": h.street_brief,
                # "due" (dose not yet delivered today), "done", or "control" (never patrolled).
                "visit_due": doses[h.pk].visit_due,
                "centroid_lat": h.centroid_lat,
                "centroid_lon": h.centroid_lon,
                "geometry": h.geometry,
            }
            for h, d in found
        ]
        # The rows already hold exactly the output's JSON types (ints, floats, strings, the
        # GeoJSON dict): ``NearbyOutputSerializer`` documents them; running it on every phone's
        # call every 30 s cost more CPU than the queries.
        return Response(rows)
