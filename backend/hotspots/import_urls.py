"""Web pages for incident imports (upload, progress, rejected rows)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
