"""Mission board, Mission Menu, experiments (web pages)."""

from django.urls import path

from backend.missions import views

app_name = "missions"

urlpatterns = [
    path("mine/", views.my_missions, name="mine"),
    path("mine/<int:pk>/act", views.my_mission_act, name="mine-act"),
    path("board/", views.board, name="board"),
    path("board/schedule", views.board_schedule, name="board-schedule"),
    path("board/assign", views.board_assign, name="board-assign"),
    path("board/<int:pk>/cancel", views.board_cancel, name="board-cancel"),
    path("board/missions.csv", views.board_csv, name="board-csv"),
    path("menu/", views.menu, name="menu"),
    path("menu/<int:pk>/edit", views.menu_edit, name="menu-edit"),
    path("experiments/", views.experiments, name="experiments"),
    path("experiments/<int:pk>/", views.experiment_detail, name="experiment"),
    path(
        "experiments/<int:pk>/randomize",
        views.experiment_randomize_view,
        name="experiment-randomize",
    ),
    path("experiments/<int:pk>/start", views.experiment_start_view, name="experiment-start"),
    path("experiments/<int:pk>/end", views.experiment_end_view, name="experiment-end"),
    path("experiments/<int:pk>/allocation.csv", views.experiment_csv, name="experiment-csv"),
    path(
        "experiments/<int:pk>/reproduce",
        views.experiment_reproduce_view,
        name="experiment-reproduce",
    ),
]
