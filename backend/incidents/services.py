"""Writes of incident data: recording an import (a retried upload is stored once) and queueing
it, running it again, saving column mappings and offence aliases, new harm index versions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction

from backend.audit.services import audit_record
from backend.config.celery import task_send
from backend.incidents.mapping import ImportSpec, import_spec_build, import_spec_check, normalise
from backend.incidents.models import (
    ColumnMapping,
    HarmWeight,
    HarmWeightVersion,
    Incident,
    IncidentImport,
    OffenceType,
)
from backend.incidents.parsing import file_sha256, file_store, stored_file_path, upload_save
from backend.incidents.selectors import harm_version_current, import_by_client_uuid
from backend.incidents.tasks import import_run_task

SOURCE_MAX = Incident._meta.get_field("source").max_length or 60


def default_source(file_name: str) -> str:
    """The file's stem without .gz and .csv: ``chicago.csv.gz`` -> ``chicago``."""
    name = Path(file_name).name
    for suffix in (".gz", ".csv", ".txt", ".tsv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return (name or "import")[:SOURCE_MAX]


def column_mapping_save(
    *, name: str, source: str, spec: ImportSpec, actor: Any = None
) -> ColumnMapping:
    """Create or replace the saved mapping ``name`` with ``spec`` (audited)."""
    name = name.strip()
    if not name or len(name) > 80:
        raise ValidationError({"save_mapping": "a mapping name has 1 to 80 characters"})
    with transaction.atomic():
        before = ColumnMapping.objects.filter(name=name).values("columns", "time_zone").first()
        mapping, _ = ColumnMapping.objects.update_or_create(
            name=name,
            defaults={
                "source": source,
                "columns": spec.columns,
                "time_zone": "" if spec.time_zone_defaulted else spec.time_zone,
                "offence": spec.offence,
                "offence_aliases": spec.offence_aliases,
            },
        )
        audit_record(
            actor=actor,
            action="column_mapping.update" if before else "column_mapping.create",
            obj=mapping,
            before=before,
            after={"columns": spec.columns, "time_zone": mapping.time_zone},
        )
    return mapping


def incident_import_create(
    *,
    path: Path,
    file_name: str,
    spec: ImportSpec,
    source: str = "",
    client_uuid: uuid.UUID | None = None,
    uploaded_by: Any = None,
    store: str = "no",
    save_mapping: str = "",
    ip: str | None = None,
) -> tuple[IncidentImport, bool]:
    """Record an import of the file at ``path``; (import, created).

    A client UUID already used returns that import unchanged (created False): a retried upload
    is stored once. ``store``: "move" or "copy" keeps the file under MEDIA_ROOT for the task,
    "no" leaves it where it is (the command reads it in place). Checks the mapping against the
    header first: ValidationError names the field (``file``, ``map``, ``source``).
    """
    client_uuid = client_uuid or uuid.uuid4()
    existing = import_by_client_uuid(client_uuid)
    if existing is not None:
        if store == "move":
            path.unlink(missing_ok=True)
        return existing, False
    import_spec_check(path=path, spec=spec)
    if not (source or "").strip() and spec.mapping_name:
        saved_source = ColumnMapping.objects.filter(name=spec.mapping_name).values_list(
            "source", flat=True
        )
        source = saved_source.first() or ""
    source = (source or "").strip() or default_source(file_name)
    if len(source) > SOURCE_MAX:
        raise ValidationError({"source": f"a source has at most {SOURCE_MAX} characters"})
    sha = file_sha256(path)
    with transaction.atomic():
        if save_mapping:
            column_mapping_save(name=save_mapping, source=source, spec=spec, actor=uploaded_by)
            spec = replace(spec, mapping_name=save_mapping.strip())
        imp, created = IncidentImport.objects.get_or_create(
            client_uuid=client_uuid,
            defaults={
                "uploaded_by": uploaded_by if getattr(uploaded_by, "pk", None) else None,
                "source": source,
                "file_name": Path(file_name).name[:255],
                "file_sha256": sha,
                "mapping": spec.as_json(),
            },
        )
        if created:
            audit_record(
                actor=uploaded_by,
                action="incident_import.create",
                obj=imp,
                after={"source": source, "file_name": imp.file_name, "mapping": imp.mapping},
                ip=ip,
            )
    if created and store in {"move", "copy"}:
        file_store(path, client_uuid, move=store == "move")
    elif not created and store == "move":
        path.unlink(missing_ok=True)
    return imp, created


def incident_import_submit(**kwargs: Any) -> tuple[IncidentImport, bool]:
    """``incident_import_create`` keeping the file, then the import task once committed."""
    kwargs.setdefault("store", "move")
    with transaction.atomic(durable=True):
        imp, created = incident_import_create(**kwargs)
        if created:
            pk = imp.pk
            transaction.on_commit(lambda: task_send(import_run_task, pk))
    return imp, created


def incident_import_upload(
    *,
    chunks: Iterable[bytes],
    file_name: str,
    client_uuid: uuid.UUID,
    uploaded_by: Any,
    columns: dict[str, str] | None = None,
    mapping_name: str = "",
    time_zone: str = "",
    offence: str = "",
    offence_aliases: dict[str, str] | None = None,
    source: str = "",
    save_mapping: str = "",
    ip: str | None = None,
) -> tuple[IncidentImport, bool]:
    """An uploaded file (its ``chunks``) with its mapping, recorded and queued; (import, created).

    The page and the API both call this. A client UUID already used answers with that import
    (created False) before anything else is read or stored: a retried upload is stored once.
    Otherwise the mapping is built (``import_spec_build``), the file kept under MEDIA_ROOT and
    ``incident_import_submit`` queues the import once committed. ValidationError is keyed by the
    offending input; nothing is kept then.
    """
    existing = import_by_client_uuid(client_uuid)
    if existing is not None:
        return existing, False
    spec = import_spec_build(
        columns=columns,
        mapping_name=mapping_name,
        time_zone=time_zone,
        offence=offence,
        offence_aliases=offence_aliases,
    )
    path = upload_save(chunks)
    try:
        return incident_import_submit(
            path=path,
            file_name=file_name,
            spec=spec,
            source=source,
            client_uuid=client_uuid,
            uploaded_by=uploaded_by,
            save_mapping=save_mapping,
            ip=ip,
        )
    except ValidationError:
        path.unlink(missing_ok=True)
        raise


def incident_import_rerun(*, import_id: int, actor: Any = None) -> IncidentImport:
    """A new import of the same stored file and mapping (saved mapping and aliases re-read).

    Safe because imports are idempotent: only rows that were rejected before and now pass
    (e.g. an offence value mapped since) are added. ValidationError if the file is gone.
    """
    old = IncidentImport.objects.get(pk=import_id)
    file = stored_file_path(old.client_uuid)
    if file is None:
        raise ValidationError({"file": "the uploaded file is no longer stored: upload it again"})
    spec = ImportSpec.from_json(old.mapping)
    if spec.mapping_name and ColumnMapping.objects.filter(name=spec.mapping_name).exists():
        saved = ColumnMapping.objects.get(name=spec.mapping_name)
        spec = replace(spec, offence_aliases={**saved.offence_aliases, **spec.offence_aliases})
    imp, _ = incident_import_submit(
        path=file,
        file_name=old.file_name,
        spec=spec,
        source=old.source,
        uploaded_by=actor,
        store="copy",
    )
    return imp


def offence_aliases_save(
    *, import_id: int, aliases: dict[str, str], target: str, actor: Any = None
) -> int:
    """Save ``aliases`` ({file value: offence code}) so later imports read those values.

    ``target`` "mapping": into the import's saved column mapping (only that records system);
    "offence": into each offence type's aliases (every import). Returns how many were saved.
    """
    aliases = {v.strip(): c for v, c in aliases.items() if v.strip() and c}
    if not aliases:
        return 0
    offences = {o.code: o for o in OffenceType.objects.filter(code__in=set(aliases.values()))}
    unknown = sorted(set(aliases.values()) - set(offences))
    if unknown:
        raise ValidationError({"offence": f"unknown offence code '{unknown[0]}'"})
    imp = IncidentImport.objects.get(pk=import_id)
    with transaction.atomic():
        if target == "mapping":
            name = ImportSpec.from_json(imp.mapping).mapping_name
            mapping = ColumnMapping.objects.select_for_update().filter(name=name).first()
            if mapping is None:
                raise ValidationError(
                    {"target": "this import used no saved mapping: save to the offence types"}
                )
            before = dict(mapping.offence_aliases)
            mapping.offence_aliases = {**mapping.offence_aliases, **aliases}
            mapping.save(update_fields=["offence_aliases", "updated_at"])
            audit_record(
                actor=actor,
                action="column_mapping.aliases",
                obj=mapping,
                before=before,
                after=mapping.offence_aliases,
            )
        elif target == "offence":
            for value, code in aliases.items():
                offence = OffenceType.objects.select_for_update().get(pk=offences[code].pk)
                if normalise(value) in {normalise(a) for a in offence.aliases}:
                    continue
                earlier = list(offence.aliases)
                offence.aliases = [*offence.aliases, value]
                offence.save(update_fields=["aliases"])
                audit_record(
                    actor=actor,
                    action="offence_type.aliases",
                    obj=offence,
                    before=earlier,
                    after=offence.aliases,
                )
        else:
            raise ValidationError({"target": "save to 'mapping' or 'offence'"})
    return len(aliases)


@transaction.atomic
def harm_version_create(
    *, weights: Mapping[str, float], actor: Any = None, note: str = ""
) -> HarmWeightVersion:
    """A new harm index version: the current weights with ``weights`` (code -> days) applied.

    Unknown codes and negative or non-finite weights are refused, naming each. Offences not
    mentioned keep their current weight. Analyses keep the version they used.
    """
    current = harm_version_current()
    codes = dict(OffenceType.objects.values_list("code", "pk"))
    errors = {}
    for code, days in weights.items():
        if code not in codes:
            errors[code] = "unknown offence code"
        elif not (isinstance(days, (int, float)) and np.isfinite(days) and days >= 0):
            errors[code] = "weight must be a number of days >= 0"
    if errors:
        raise ValidationError(errors)
    old = dict(HarmWeight.objects.filter(version=current).values_list("offence__code", "days"))
    new = {**old, **{k: float(v) for k, v in weights.items()}}
    version = HarmWeightVersion.objects.create(
        number=current.number + 1,
        note=note,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    HarmWeight.objects.bulk_create(
        [HarmWeight(version=version, offence_id=codes[c], days=d) for c, d in new.items()]
    )
    changed = {c: [old.get(c), d] for c, d in new.items() if old.get(c) != d}
    audit_record(
        actor=actor,
        action="harm_index.version",
        obj=version,
        before={"version": current.number},
        after={"version": version.number, "changed": changed},
    )
    return version
