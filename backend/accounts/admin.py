from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from backend.accounts.mapforms import MapAdminMixin, PolygonField
from backend.accounts.models import Beat, District, Squad, User
from backend.accounts.services import beat_save, district_save


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "squad", "is_active"]
    list_filter = ["role", "squad", "is_active"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Presence", {"fields": ("role", "squad", "badge_number")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Presence", {"fields": ("role", "squad", "badge_number")}),
    )


@admin.register(Squad)
class SquadAdmin(admin.ModelAdmin):
    list_display = ["name", "district", "sergeant", "shift_start", "shift_hours"]
    list_filter = ["district"]


class DistrictForm(forms.ModelForm):
    boundary = PolygonField(what="The district boundary", geom_type="MULTIPOLYGON")

    class Meta:
        model = District
        fields = ["name", "code", "boundary"]


class BeatForm(forms.ModelForm):
    boundary = PolygonField(what="The beat boundary", geom_type="MULTIPOLYGON")

    class Meta:
        model = Beat
        fields = ["district", "name", "code", "boundary"]


class BoundaryAdmin(MapAdminMixin, admin.ModelAdmin):
    """Boundaries drawn on django-leaflet's map; saved through the app's service, which checks
    the shape again (valid polygon inside the agency area) and writes the audit row."""

    saver: Any = None

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            type(self).saver(obj, actor=request.user)
        except ValidationError as exc:  # the form checked it; a race or a bypass lands here
            raise ValidationError(exc.messages) from exc


@admin.register(District)
class DistrictAdmin(BoundaryAdmin):
    form = DistrictForm
    list_display = ["name", "code", "min_lat", "min_lon", "max_lat", "max_lon"]
    search_fields = ["name", "code"]

    @staticmethod
    def saver(obj: District, *, actor: Any) -> District:
        return district_save(district=obj, actor=actor)


@admin.register(Beat)
class BeatAdmin(BoundaryAdmin):
    form = BeatForm
    list_display = ["name", "code", "district"]
    list_filter = ["district"]
    search_fields = ["name", "code"]

    @staticmethod
    def saver(obj: Beat, *, actor: Any) -> Beat:
        return beat_save(beat=obj, actor=actor)
