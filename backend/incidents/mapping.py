"""The column mapping of an incident import: which file column holds which Presence field, the
time zone of local times, and how offence values map to offence types.

A mapping is built from a saved ``ColumnMapping`` (chosen by name) overlaid with explicit values,
checked against the file's header, and stored on the import as JSON (``ImportSpec``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError

from backend.incidents.models import ColumnMapping, OffenceType
from backend.incidents.parsing import ImportFileError, file_header

FIELDS = ("id", "occurred_at", "lat", "lon", "offence", "premise")
REQUIRED_FIELDS = ("occurred_at", "lat", "lon")
HASH_ID = "@hash"
FIELD_LABELS = {
    "id": "id",
    "occurred_at": "time",
    "lat": "latitude",
    "lon": "longitude",
    "offence": "offence",
    "premise": "premise",
}


@dataclass(frozen=True)
class ImportSpec:
    """How to read one file: columns, time zone, offence. Stored on the import as JSON."""

    columns: dict[str, str]
    time_zone: str
    time_zone_defaulted: bool = False
    offence: str = ""
    offence_aliases: dict[str, str] = field(default_factory=dict)
    mapping_name: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "columns": dict(self.columns),
            "time_zone": self.time_zone,
            "time_zone_defaulted": self.time_zone_defaulted,
            "offence": self.offence,
            "offence_aliases": dict(self.offence_aliases),
            "mapping_name": self.mapping_name,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportSpec:
        return cls(
            columns=dict(data.get("columns") or {}),
            time_zone=data.get("time_zone") or settings.TIME_ZONE,
            time_zone_defaulted=bool(data.get("time_zone_defaulted")),
            offence=data.get("offence") or "",
            offence_aliases=dict(data.get("offence_aliases") or {}),
            mapping_name=data.get("mapping_name") or "",
        )


def parse_column_map(text: str) -> dict[str, str]:
    """``"id=COL,occurred_at=COL,..."`` to {field: column}; ValidationError naming the item."""
    columns: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise ValidationError({"map": f"'{item}' is not FIELD=COLUMN"})
        columns[name.strip()] = column.strip()
    return columns


def parse_offence_map(text: str) -> dict[str, str]:
    """``"FILE VALUE=code;OTHER=code"`` to {file value: offence code}."""
    aliases: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(";"))):
        value, sep, code = item.rpartition("=")
        if not sep or not value.strip() or not code.strip():
            raise ValidationError({"offence_map": f"'{item}' is not FILE VALUE=offence code"})
        aliases[value.strip()] = code.strip()
    return aliases


def normalise(value: str) -> str:
    return " ".join(value.split()).casefold()


def offence_lookup() -> dict[str, int]:
    """{normalised code, name or alias: offence type id}; codes win over names over aliases."""
    lookup: dict[str, int] = {}
    offences = list(OffenceType.objects.values_list("pk", "code", "name", "aliases"))
    for pk, code, _, _ in offences:
        lookup.setdefault(normalise(code), pk)
    for pk, _, name, _ in offences:
        lookup.setdefault(normalise(name), pk)
    for pk, _, _, aliases in offences:
        for alias in aliases or []:
            lookup.setdefault(normalise(str(alias)), pk)
    return lookup


def offence_type_find(code_or_name: str) -> OffenceType | None:
    """The offence type whose code, name or alias is ``code_or_name`` (case-insensitive)."""
    pk = offence_lookup().get(normalise(code_or_name))
    return OffenceType.objects.filter(pk=pk).first() if pk is not None else None


def import_spec_build(
    *,
    columns: dict[str, str] | None = None,
    mapping_name: str = "",
    time_zone: str = "",
    offence: str = "",
    offence_aliases: dict[str, str] | None = None,
) -> ImportSpec:
    """The mapping for one import: a saved mapping (if named) overlaid with explicit values.

    ``id`` defaults to ``@hash``; local times default to the mapping's zone, then the agency's
    (``time_zone_defaulted`` says so). Raises ValidationError keyed by the offending input
    (``mapping``, ``map``, ``tz``, ``offence``, ``offence_map``).
    """
    saved: ColumnMapping | None = None
    if mapping_name:
        saved = ColumnMapping.objects.filter(name=mapping_name).first()
        if saved is None:
            names = ", ".join(ColumnMapping.objects.values_list("name", flat=True)) or "none"
            raise ValidationError(
                {"mapping": f"no saved mapping is named '{mapping_name}' (saved: {names})"}
            )
    explicit = {k: v for k, v in (columns or {}).items() if v}
    unknown = sorted(set(explicit) - set(FIELDS))
    if unknown:
        raise ValidationError(
            {"map": f"unknown field '{unknown[0]}' (fields are {', '.join(FIELDS)})"}
        )
    merged = {**(saved.columns if saved else {}), **explicit}
    single = offence or (saved.offence if saved else "")
    if offence and "offence" in explicit:
        raise ValidationError(
            {"offence": "give either an offence column or one offence for every row, not both"}
        )
    if "offence" in explicit:
        single = ""
    elif offence:
        merged.pop("offence", None)
    missing = [f for f in REQUIRED_FIELDS if not merged.get(f)]
    if missing:
        raise ValidationError(
            {"map": f"map a column to {', '.join(missing)} (e.g. --map {missing[0]}=COLUMN)"}
        )
    if not merged.get("offence") and not single:
        raise ValidationError(
            {"offence": "map an offence column (offence=COLUMN) or give one offence for the file"}
        )
    merged.setdefault("id", HASH_ID)
    merged = {f: merged[f] for f in FIELDS if merged.get(f)}

    zone = time_zone or (saved.time_zone if saved else "")
    try:
        ZoneInfo(zone or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            {"tz": f"unknown time zone '{zone}' (use e.g. Europe/London)"}
        ) from exc

    code = ""
    if single:
        found = offence_type_find(single)
        if found is None:
            raise ValidationError({"offence": f"unknown offence '{single}'"})
        code = found.code
    aliases = {**(saved.offence_aliases if saved else {}), **(offence_aliases or {})}
    codes = set(OffenceType.objects.values_list("code", flat=True))
    for value, alias_code in aliases.items():
        if alias_code not in codes:
            raise ValidationError(
                {"offence_map": f"'{value}' maps to '{alias_code}', which is no offence code"}
            )
    return ImportSpec(
        columns=merged,
        time_zone=zone or settings.TIME_ZONE,
        time_zone_defaulted=not zone,
        offence=code,
        offence_aliases=aliases,
        mapping_name=saved.name if saved else "",
    )


def import_spec_check(*, path: Path, spec: ImportSpec) -> list[str]:
    """Check ``spec`` against the file's header; return the header.

    ValidationError (``file`` or ``map``) when the file has no header or a mapped column is
    missing. Column names match exactly, then ignoring case and surrounding spaces.
    """
    try:
        header, _ = file_header(path)
    except ImportFileError as exc:
        raise ValidationError({"file": str(exc)}) from exc
    column_indexes(spec, header)
    return header


def column_indexes(spec: ImportSpec, header: list[str]) -> dict[str, int]:
    exact = {name: i for i, name in reversed(list(enumerate(header)))}
    folded = {name.casefold(): i for i, name in reversed(list(enumerate(header)))}
    indexes: dict[str, int] = {}
    for fld, column in spec.columns.items():
        if fld == "id" and column == HASH_ID:
            continue
        i = exact.get(column, folded.get(column.strip().casefold()))
        if i is None:
            raise ValidationError(
                {
                    "map": f"column '{column}' (for {fld}) is not in the file; its columns are: "
                    + ", ".join(header)
                }
            )
        indexes[fld] = i
    return indexes
