from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from backend.accounts.models import District, Squad, User


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


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "min_lat", "min_lon", "max_lat", "max_lon"]
    search_fields = ["name", "code"]
