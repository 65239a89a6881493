"""The default, configurable list of activities an officer logs."""

from django.db import migrations

DEFAULT_ACTIVITY_TYPES = [
    ("foot-patrol", "Foot patrol"),
    ("stop-engagement", "Stop / engagement"),
    ("search", "Search"),
    ("arrest", "Arrest"),
    ("intelligence-report", "Intelligence report"),
    ("community-contact", "Community contact"),
    ("problem-noted", "Problem noted (lighting, litter, vacant property)"),
]


def load(apps, schema_editor):
    ActivityType = apps.get_model("patrols", "ActivityType")
    for code, name in DEFAULT_ACTIVITY_TYPES:
        ActivityType.objects.get_or_create(code=code, defaults={"name": name})


def unload(apps, schema_editor):
    codes = [code for code, _ in DEFAULT_ACTIVITY_TYPES]
    apps.get_model("patrols", "ActivityType").objects.filter(code__in=codes).delete()


class Migration(migrations.Migration):
    dependencies = [("patrols", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
