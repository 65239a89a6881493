from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "backend.accounts"
    label = "accounts"
    verbose_name = "Accounts, squads and districts"

    def ready(self) -> None:
        from backend.accounts import receivers  # noqa: F401  (connects the token revocations)
