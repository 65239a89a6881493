from django.urls import path

from backend.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.audit_page, name="index"),
    path("audit.csv", views.audit_csv, name="csv"),
]
