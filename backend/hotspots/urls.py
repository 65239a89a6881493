from django.urls import path

from backend.hotspots import hand_drawn_views, views

app_name = "hotspots"

urlpatterns = [
    path("", views.hotspots_index, name="index"),
    path("analyses/new", views.analysis_new, name="analysis-new"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/status", views.run_status, name="run-status"),
    path("runs/<int:pk>/publish", views.run_publish, name="run-publish"),
    path("runs/<int:pk>/hotspots.geojson", views.run_geojson, name="run-geojson"),
    path("runs/<int:pk>/hotspots.csv", views.run_csv, name="run-csv"),
    path("runs/<int:pk>/grid.csv", views.run_grid_csv, name="run-grid-csv"),
    path("<int:pk>/", views.hotspot_detail, name="hotspot"),
    path("<int:pk>/heatmap.png", views.hotspot_heatmap, name="hotspot-heatmap"),
    path("hand-drawn/", hand_drawn_views.hand_drawn_list, name="hand-drawn"),
    path("hand-drawn/new/", hand_drawn_views.hand_drawn_new, name="hand-drawn-new"),
    path("hand-drawn/<int:pk>/edit/", hand_drawn_views.hand_drawn_edit, name="hand-drawn-edit"),
]
