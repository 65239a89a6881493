"""Workload pages."""

from django.urls import path

from backend.workload import views

app_name = "workload"

urlpatterns = [
    path("", views.index, name="index"),
    path("export/<str:what>.csv", views.export_csv, name="export"),
    path("imports/", views.imports, name="imports"),
]
