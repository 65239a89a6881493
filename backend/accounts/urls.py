from django.contrib.auth import views as auth_views
from django.urls import path

from backend.accounts import boundary_views, factor_views, views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/code/", factor_views.factor_verify_page, name="factor-verify"),
    path("login/enrol/", factor_views.factor_enrol_page, name="factor-enrol"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("boundaries/", boundary_views.boundaries, name="boundaries"),
    path("districts/new/", boundary_views.district_new, name="district-new"),
    path("districts/<int:pk>/edit/", boundary_views.district_edit, name="district-edit"),
    path("beats/new/", boundary_views.beat_new, name="beat-new"),
    path("beats/<int:pk>/edit/", boundary_views.beat_edit, name="beat-edit"),
]
