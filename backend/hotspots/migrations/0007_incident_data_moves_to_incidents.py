"""The incident data (offence types, harm index, column mappings, imports, incidents) now
belongs to ``incidents`` (its ``0001`` takes the models over, same tables). State only: no table
is dropped or copied. The content types follow, so permissions granted on these models keep
working; the audit log keeps the labels it was written with (it is append-only)."""

import django.db.models.deletion
from django.db import migrations, models

MOVED = [
    "offencetype",
    "harmweightversion",
    "harmweight",
    "columnmapping",
    "incidentimport",
    "incident",
]


def _relabel(apps, from_label, to_label):
    ContentType = apps.get_model("contenttypes", "ContentType")
    taken = set(
        ContentType.objects.filter(app_label=to_label, model__in=MOVED).values_list(
            "model", flat=True
        )
    )
    ContentType.objects.filter(app_label=from_label, model__in=set(MOVED) - taken).update(
        app_label=to_label
    )


def content_types_to_incidents(apps, schema_editor):
    _relabel(apps, "hotspots", "incidents")


def content_types_to_hotspots(apps, schema_editor):
    _relabel(apps, "incidents", "hotspots")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("hotspots", "0006_hand_drawn_hotspots"),
        ("incidents", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="analysisrun",
                    name="weights_version",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        to="incidents.harmweightversion",
                    ),
                ),
                migrations.DeleteModel(
                    name="ColumnMapping",
                ),
                migrations.RemoveField(
                    model_name="harmweight",
                    name="offence",
                ),
                migrations.RemoveField(
                    model_name="harmweight",
                    name="version",
                ),
                migrations.RemoveField(
                    model_name="harmweightversion",
                    name="created_by",
                ),
                migrations.RemoveField(
                    model_name="incident",
                    name="district",
                ),
                migrations.RemoveField(
                    model_name="incident",
                    name="imported_by",
                ),
                migrations.RemoveField(
                    model_name="incident",
                    name="offence",
                ),
                migrations.RemoveField(
                    model_name="incidentimport",
                    name="uploaded_by",
                ),
                migrations.DeleteModel(
                    name="HarmWeight",
                ),
                migrations.DeleteModel(
                    name="HarmWeightVersion",
                ),
                migrations.DeleteModel(
                    name="Incident",
                ),
                migrations.DeleteModel(
                    name="OffenceType",
                ),
                migrations.DeleteModel(
                    name="IncidentImport",
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_to_incidents, content_types_to_hotspots),
    ]
