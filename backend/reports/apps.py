from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "backend.reports"
    label = "reports"

    def ready(self) -> None:
        from backend.patrols.signals import visits_rebuilt
        from backend.reports.signals import queue_compliance_rebuild

        visits_rebuilt.connect(queue_compliance_rebuild, dispatch_uid="reports.compliance")
