from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.factor import factor_reset
from backend.accounts.lockout import account_unlock
from backend.accounts.mapforms import MapAdminMixin, PolygonField
from backend.accounts.models import Beat, District, Squad, User
from backend.accounts.services import beat_save, district_save, user_access, user_access_audit
from backend.audit.services import request_ip


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "squad", "is_active"]
    list_filter = ["role", "squad", "is_active"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Presence", {"fields": ("role", "squad", "badge_number")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Presence", {"fields": ("role", "squad", "badge_number")}),
    )
    actions = ["unlock", "reset_second_factor"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Save, then audit a change of role, squad or flags (the admin's own transaction)."""
        stored = User.objects.filter(pk=obj.pk).first() if change else None
        before = user_access(user=stored) if stored is not None else None
        super().save_model(request, obj, form, change)
        user_access_audit(actor=request.user, user=obj, before=before, ip=request_ip(request))

    @admin.action(description="Unlock the selected accounts (after failed sign-ins)")
    def unlock(self, request: HttpRequest, queryset: Any) -> None:
        unlocked = [
            u.username
            for u in queryset
            if account_unlock(user=u, actor=request.user, ip=request_ip(request))
        ]
        self.message_user(request, f"Unlocked: {', '.join(unlocked) or 'none was locked'}.")

    @admin.action(description="Reset the second factor of the selected users (they enrol again)")
    def reset_second_factor(self, request: HttpRequest, queryset: Any) -> None:
        reset = [
            u.username
            for u in queryset
            if factor_reset(user=u, actor=request.user, ip=request_ip(request))
        ]
        self.message_user(
            request,
            f"Second factor reset: {', '.join(reset) or 'none had one'}. "
            "They set up an authenticator again at their next sign-in.",
        )


# An administrator resets a second factor (the action above); the device admins django-otp
# registers would show each authenticator's secret and each recovery code.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


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


@admin.register(District)
class DistrictAdmin(MapAdminMixin, admin.ModelAdmin):
    """District boundaries drawn on django-leaflet's map; saved through ``district_save``, which
    checks the shape (valid polygon inside the agency area) and writes the audit row."""

    form = DistrictForm
    list_display = ["name", "code", "min_lat", "min_lon", "max_lat", "max_lon"]
    search_fields = ["name", "code"]

    def save_model(self, request: HttpRequest, obj: District, form: Any, change: bool) -> None:
        district_save(district=obj, actor=request.user)


@admin.register(Beat)
class BeatAdmin(MapAdminMixin, admin.ModelAdmin):
    """Beat boundaries, as districts' (``beat_save``)."""

    form = BeatForm
    list_display = ["name", "code", "district"]
    list_filter = ["district"]
    search_fields = ["name", "code"]

    def save_model(self, request: HttpRequest, obj: Beat, form: Any, change: bool) -> None:
        beat_save(beat=obj, actor=request.user)
