"""The default harm index (version 1): offence types a US and a UK agency would see.

These weights are DEFAULTS TO REVIEW, not policy. They follow the Cambridge Crime Harm Index
method (days of custody at the sentencing starting point for a first offender) with values
rounded for a US/UK mix; an agency's analyst should check each against local sentencing
guidance and save a new version. The table is inline (not imported) so that this migration
never changes when app code does.
"""

from django.db import migrations

# code, name, group, days, aliases
DEFAULT_OFFENCES = [
    ("homicide", "Homicide / murder", "violent", 5475, ["murder", "manslaughter", "homicide"]),
    ("rape", "Rape", "violent", 1825, ["rape", "sexual assault rape"]),
    ("sexual-assault", "Sexual assault (other)", "violent", 180, ["sex offense", "sexual assault"]),
    ("gbh-with-intent", "GBH with intent / wounding (UK s.18)", "violent", 1825, ["gbh", "s18"]),
    (
        "aggravated-assault",
        "Aggravated assault / violence with injury",
        "violent",
        365,
        [
            "aggravated assault",
            "agg assault",
            "violence with injury",
            "assault with a deadly weapon",
        ],
    ),
    (
        "robbery-personal",
        "Robbery of personal property",
        "violent",
        365,
        ["robbery", "street robbery", "personal robbery", "robbery of personal property"],
    ),
    ("robbery-business", "Robbery of business property", "violent", 365, ["commercial robbery"]),
    ("kidnapping", "Kidnapping / abduction", "violent", 730, ["kidnapping", "abduction"]),
    ("abh", "Assault with injury (UK ABH)", "violent", 90, ["abh", "actual bodily harm"]),
    (
        "simple-assault",
        "Simple / common assault",
        "violent",
        2,
        ["simple assault", "common assault", "battery", "violence without injury"],
    ),
    ("weapons", "Weapons possession", "violent", 90, ["weapons", "possession of weapons"]),
    (
        "burglary-residential",
        "Burglary, residential (dwelling)",
        "property",
        40,
        ["residential burglary", "burglary dwelling", "domestic burglary"],
    ),
    (
        "burglary-commercial",
        "Burglary, commercial (non-dwelling)",
        "property",
        20,
        ["commercial burglary", "burglary non-dwelling", "burglary"],
    ),
    ("arson", "Arson", "property", 365, ["arson"]),
    (
        "motor-vehicle-theft",
        "Motor vehicle theft",
        "property",
        20,
        ["motor vehicle theft", "auto theft", "theft of a motor vehicle", "vehicle crime"],
    ),
    (
        "theft-from-vehicle",
        "Theft from a vehicle",
        "property",
        10,
        ["theft from motor vehicle", "larceny from vehicle", "vehicle break-in"],
    ),
    ("theft-from-person", "Theft from the person", "property", 20, ["pickpocketing", "snatch"]),
    ("larceny", "Theft / larceny (other)", "property", 5, ["larceny", "theft", "other theft"]),
    ("shoplifting", "Shoplifting", "property", 2, ["shoplifting", "retail theft"]),
    ("bicycle-theft", "Bicycle theft", "property", 2, ["bicycle theft"]),
    ("fraud", "Fraud", "property", 20, ["fraud", "forgery"]),
    (
        "vandalism",
        "Vandalism / criminal damage",
        "property",
        10,
        ["vandalism", "criminal damage", "destruction of property"],
    ),
    (
        "drug-dealing",
        "Drug dealing / supply",
        "qol",
        365,
        ["drug sales", "possession with intent to supply", "drug distribution"],
    ),
    ("drug-possession", "Drug possession", "qol", 2, ["drug possession", "drugs", "narcotics"]),
    ("dui", "Driving under the influence", "qol", 10, ["dui", "dwi", "drink driving"]),
    (
        "disorderly-conduct",
        "Disorderly conduct / public order",
        "qol",
        2,
        ["disorderly conduct", "public order", "breach of the peace"],
    ),
    ("prostitution", "Prostitution / soliciting", "qol", 1, ["prostitution", "soliciting"]),
    ("trespass", "Trespass", "qol", 1, ["trespass", "trespassing"]),
    (
        "anti-social-behaviour",
        "Anti-social behaviour / nuisance",
        "qol",
        1,
        ["anti-social behaviour", "nuisance", "noise"],
    ),
]


def load_defaults(apps, schema_editor):
    OffenceType = apps.get_model("hotspots", "OffenceType")
    HarmWeightVersion = apps.get_model("hotspots", "HarmWeightVersion")
    HarmWeight = apps.get_model("hotspots", "HarmWeight")
    if HarmWeightVersion.objects.exists():
        return
    version = HarmWeightVersion.objects.create(
        number=1,
        is_default_table=True,
        note="Default table shipped with Presence: review every weight before operational use.",
    )
    for code, name, group, days, aliases in DEFAULT_OFFENCES:
        offence, _ = OffenceType.objects.get_or_create(
            code=code, defaults={"name": name, "group": group, "aliases": aliases}
        )
        HarmWeight.objects.create(version=version, offence=offence, days=days)


def unload_defaults(apps, schema_editor):
    apps.get_model("hotspots", "HarmWeightVersion").objects.filter(number=1).delete()


class Migration(migrations.Migration):
    dependencies = [("hotspots", "0001_initial")]

    operations = [migrations.RunPython(load_defaults, unload_defaults)]
