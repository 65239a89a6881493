from django.apps import AppConfig


class MissionsConfig(AppConfig):
    name = "backend.missions"
    label = "missions"
