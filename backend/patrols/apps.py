from django.apps import AppConfig


class PatrolsConfig(AppConfig):
    name = "backend.patrols"
    label = "patrols"
