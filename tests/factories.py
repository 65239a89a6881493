"""factory-boy factories for the models tests build most often."""

from __future__ import annotations

from datetime import time

import factory
from shapely.geometry import box, mapping

from backend.accounts.models import District, Role, Squad, User
from backend.incidents.models import Incident, OffenceType


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"District {n}")
    code = factory.Sequence(lambda n: f"district-{n}")
    boundary = factory.LazyFunction(lambda: mapping(box(-80.24, 25.75, -80.18, 25.85)))
    min_lon, min_lat, max_lon, max_lat = -80.24, 25.75, -80.18, 25.85


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    role = Role.OFFICER
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()


class SquadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Squad

    name = factory.Sequence(lambda n: f"Squad {n}")
    district = factory.SubFactory(DistrictFactory)
    sergeant = factory.SubFactory(UserFactory, role=Role.SERGEANT)
    shift_start = time(7, 0)


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    source = "test"
    source_id = factory.Sequence(lambda n: f"t{n}")
    lat = 25.80
    lon = -80.21
    offence = factory.LazyFunction(lambda: OffenceType.objects.get(code="larceny"))
