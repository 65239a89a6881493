"""Mission board, Mission Menu, experiments (web pages)."""

app_name = "missions"

urlpatterns: list = []
