from django.apps import AppConfig


class MissionsConfig(AppConfig):
    name = "backend.missions"
    label = "missions"

    def ready(self) -> None:
        # Lower apps hear of missions through these hooks, never by importing missions.
        from backend.hotspots.tactics import tactics_provider_register
        from backend.missions.selectors import mission_is_officers, mission_type_tactics
        from backend.patrols.services import activity_mission_check_register

        tactics_provider_register(mission_type_tactics)
        activity_mission_check_register(mission_is_officers)
