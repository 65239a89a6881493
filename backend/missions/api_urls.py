"""Missions, the officer's draw, schedules and experiments (API)."""

from django.urls import path, re_path

from backend.missions import api, nearby_api

urlpatterns = [
    path("hotspots/nearby", nearby_api.HotspotNearbyApi.as_view(), name="api-hotspots-nearby"),
    path("missions", api.MissionListApi.as_view(), name="api-missions"),
    path("missions/draw", api.MissionDrawApi.as_view(), name="api-mission-draw"),
    path("missions/assign", api.MissionAssignApi.as_view(), name="api-mission-assign"),
    path("missions/<int:pk>", api.MissionDetailApi.as_view(), name="api-mission"),
    path("missions/<int:pk>/accept", api.MissionAcceptApi.as_view(), name="api-mission-accept"),
    path("missions/<int:pk>/arrive", api.MissionArriveApi.as_view(), name="api-mission-arrive"),
    path(
        "missions/<int:pk>/complete", api.MissionCompleteApi.as_view(), name="api-mission-complete"
    ),
    path("missions/<int:pk>/decline", api.MissionDeclineApi.as_view(), name="api-mission-decline"),
    path(
        "missions/<int:pk>/interrupt",
        api.MissionInterruptApi.as_view(),
        name="api-mission-interrupt",
    ),
    path("missions/<int:pk>/cancel", api.MissionCancelApi.as_view(), name="api-mission-cancel"),
    path("mission-types", api.MissionTypeListApi.as_view(), name="api-mission-types"),
    path("squads/<int:pk>/schedule", api.SquadScheduleApi.as_view(), name="api-squad-schedule"),
    path("squads/<int:pk>/board", api.SquadBoardApi.as_view(), name="api-squad-board"),
    path("experiments", api.ExperimentListCreateApi.as_view(), name="api-experiments"),
    path("experiments/<int:pk>", api.ExperimentDetailApi.as_view(), name="api-experiment"),
    path(
        "experiments/<int:pk>/randomize",
        api.ExperimentRandomizeApi.as_view(),
        name="api-experiment-randomize",
    ),
    path(
        "experiments/<int:pk>/start", api.ExperimentStartApi.as_view(), name="api-experiment-start"
    ),
    path("experiments/<int:pk>/end", api.ExperimentEndApi.as_view(), name="api-experiment-end"),
    path(
        "experiments/<int:pk>/allocation.csv",
        api.ExperimentAllocationCsvApi.as_view(),
        name="api-experiment-allocation-csv",
    ),
    path(
        "experiments/<int:pk>/reproduce",
        api.ExperimentReproduceApi.as_view(),
        name="api-experiment-reproduce",
    ),
    path(
        "experiments/<int:pk>/arms.geojson",
        api.ExperimentArmsGeoJsonApi.as_view(),
        name="api-experiment-arms-geojson",
    ),
    re_path(
        r"^experiments/(?P<pk>[0-9]+)/arms-gis\.(?P<fmt>gpkg|geojson|csv)$",
        api.ExperimentArmsFileApi.as_view(),
        name="api-experiment-arms-file",
    ),
]
