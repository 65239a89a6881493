from django.apps import AppConfig


class HotspotsConfig(AppConfig):
    name = "backend.hotspots"
    label = "hotspots"
