from django.apps import AppConfig


class HotspotsConfig(AppConfig):
    name = "backend.hotspots"
    label = "hotspots"

    def ready(self) -> None:
        from backend.hotspots import analysis_tasks  # noqa: F401  (registers the Celery task)
