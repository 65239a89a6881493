from django.apps import AppConfig


class WorkloadConfig(AppConfig):
    name = "backend.workload"
    label = "workload"
    verbose_name = "Workload and capacity"
