from django.urls import path

from backend.patrols import api

urlpatterns = [
    path("patrols/sessions", api.SessionStartApi.as_view(), name="api-session-start"),
    path("patrols/sessions/current", api.SessionCurrentApi.as_view(), name="api-session-current"),
    path("patrols/sessions/<int:pk>/end", api.SessionEndApi.as_view(), name="api-session-end"),
    path("pings/batch", api.PingBatchApi.as_view(), name="api-pings-batch"),
    path("avl/batch", api.AvlBatchApi.as_view(), name="api-avl-batch"),
    path("activities", api.ActivityApi.as_view(), name="api-activities"),
    path("activities/<uuid:client_uuid>", api.ActivityUndoApi.as_view(), name="api-activity-undo"),
    path("activity-types", api.ActivityTypesApi.as_view(), name="api-activity-types"),
    path("officers/<int:officer_id>/track", api.TrackApi.as_view(), name="api-officer-track"),
]
