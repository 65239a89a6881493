"""The incident data moves here from ``hotspots`` without copying a row: the tables keep their
names (``db_table``), so this migration only tells Django's state that these models now belong
to ``incidents``; ``hotspots.0007`` removes them from the hotspots state. Fresh installs create
the tables in ``hotspots.0001`` to ``0005`` and reach the same state."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0003_beat'),
        ('hotspots', '0006_hand_drawn_hotspots'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='ColumnMapping',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('name', models.CharField(max_length=80, unique=True)),
                    ('source', models.CharField(help_text='Records system the ids belong to.', max_length=60)),
                    ('columns', models.JSONField(default=dict)),
                    ('time_zone', models.CharField(blank=True, max_length=64)),
                    ('offence', models.CharField(blank=True, help_text='Offence code for files with one offence type.', max_length=60)),
                    ('offence_aliases', models.JSONField(blank=True, default=dict)),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                ],
                options={
                    'db_table': 'hotspots_columnmapping',
                    'ordering': ['name'],
                },
            ),
            migrations.CreateModel(
                name='OffenceType',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('code', models.SlugField(max_length=60, unique=True)),
                    ('name', models.CharField(max_length=120)),
                    ('group', models.CharField(choices=[('violent', 'Violent'), ('property', 'Property'), ('qol', 'Quality of life')], max_length=10)),
                    ('aliases', models.JSONField(blank=True, default=list, help_text='Other names records systems use for this offence.')),
                ],
                options={
                    'db_table': 'hotspots_offencetype',
                    'ordering': ['group', 'name'],
                },
            ),
            migrations.CreateModel(
                name='HarmWeightVersion',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('number', models.PositiveIntegerField(unique=True)),
                    ('note', models.TextField(blank=True)),
                    ('is_default_table', models.BooleanField(default=False, help_text='Shipped defaults: review them before operational use.')),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'db_table': 'hotspots_harmweightversion',
                    'ordering': ['-number'],
                },
            ),
            migrations.CreateModel(
                name='IncidentImport',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('client_uuid', models.UUIDField(default=uuid.uuid4, unique=True)),
                    ('source', models.CharField(help_text='Records system the ids belong to.', max_length=60)),
                    ('file_name', models.CharField(max_length=255)),
                    ('file_sha256', models.CharField(max_length=64)),
                    ('mapping', models.JSONField(default=dict)),
                    ('status', models.CharField(choices=[('pending', 'Pending'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed')], default='pending', max_length=10)),
                    ('rows_total', models.PositiveIntegerField(default=0)),
                    ('rows_done', models.PositiveIntegerField(default=0)),
                    ('imported', models.PositiveIntegerField(default=0)),
                    ('duplicates', models.PositiveIntegerField(default=0)),
                    ('rejected', models.PositiveIntegerField(default=0)),
                    ('rejections', models.JSONField(blank=True, default=list, help_text='[{line, field, reason}], first 1,000.')),
                    ('error', models.TextField(blank=True)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('finished_at', models.DateTimeField(blank=True, null=True)),
                    ('uploaded_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'db_table': 'hotspots_incidentimport',
                    'ordering': ['-created_at'],
                },
            ),
            migrations.CreateModel(
                name='Incident',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('source', models.CharField(max_length=60)),
                    ('source_id', models.CharField(max_length=80)),
                    ('occurred_at', models.DateTimeField()),
                    ('lat', models.FloatField()),
                    ('lon', models.FloatField()),
                    ('premise', models.CharField(blank=True, help_text='Place type, e.g. street.', max_length=60)),
                    ('district', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, to='accounts.district')),
                    ('imported_by', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='incidents', to='incidents.incidentimport')),
                    ('offence', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='incidents', to='incidents.offencetype')),
                ],
                options={
                    'db_table': 'hotspots_incident',
                },
            ),
            migrations.CreateModel(
                name='HarmWeight',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('days', models.FloatField(help_text='Days of custody (Cambridge Crime Harm Index method).')),
                    ('version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='weights', to='incidents.harmweightversion')),
                    ('offence', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='weights', to='incidents.offencetype')),
                ],
                options={
                    'db_table': 'hotspots_harmweight',
                },
            ),
            migrations.AddIndex(
                model_name='incidentimport',
                index=models.Index(fields=['file_sha256'], name='import_sha_idx'),
            ),
            migrations.AddConstraint(
                model_name='incidentimport',
                constraint=models.CheckConstraint(condition=models.Q(('rows_done__lte', models.F('rows_total')), ('rows_total', 0), _connector='OR'), name='import_progress_le_total'),
            ),
            migrations.AddIndex(
                model_name='incident',
                index=models.Index(fields=['occurred_at'], name='incident_time_idx'),
            ),
            migrations.AddIndex(
                model_name='incident',
                index=models.Index(fields=['district', 'occurred_at'], name='incident_district_time_idx'),
            ),
            migrations.AddConstraint(
                model_name='incident',
                constraint=models.UniqueConstraint(fields=('source', 'source_id'), name='incident_source_unique'),
            ),
            migrations.AddConstraint(
                model_name='incident',
                constraint=models.CheckConstraint(condition=models.Q(('lat__gte', -90), ('lat__lte', 90)), name='incident_lat'),
            ),
            migrations.AddConstraint(
                model_name='incident',
                constraint=models.CheckConstraint(condition=models.Q(('lon__gte', -180), ('lon__lte', 180)), name='incident_lon'),
            ),
            migrations.AddConstraint(
                model_name='harmweight',
                constraint=models.UniqueConstraint(fields=('version', 'offence'), name='harm_weight_unique'),
            ),
            migrations.AddConstraint(
                model_name='harmweight',
                constraint=models.CheckConstraint(condition=models.Q(('days__gte', 0)), name='harm_weight_nonnegative'),
            ),
            ],
            database_operations=[],
        ),
    ]
