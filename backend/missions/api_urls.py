"""Missions, the officer's draw, schedules and experiments (API)."""

urlpatterns: list = []
