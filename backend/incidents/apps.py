from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "backend.incidents"
    label = "incidents"
