"""Impact of an experiment (API): ``GET /api/v1/experiments/<id>/impact``."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.accounts.permissions import role_permission
from backend.missions.models import Experiment
from backend.reports.impact import experiment_impact_cached

IMPACT_ROLES = (Role.SUPERVISOR, Role.ANALYST)
MAX_PERMUTATIONS = 100_000  # about a second for 200 hot spots; the default 10,000 is plenty


def _num(**kwargs: Any) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, **kwargs)


class BeforeDuringSerializer(serializers.Serializer):
    before = _num()
    during = _num()


class ArmsSerializer(serializers.Serializer):
    treatment = BeforeDuringSerializer()
    control = BeforeDuringSerializer()


class CountsImpactSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    rate_ratio = _num(help_text="Treated change / control change; < 1 means a fall.")
    ci95 = serializers.ListField(child=_num(), min_length=2, max_length=2)
    log_rate_ratio = _num()
    se_log_rate_ratio = _num(help_text="Cluster-robust (by hot spot).")
    did = _num(help_text="Difference in differences per hot spot.")
    p_randomization = _num(help_text="Two-sided, from re-randomizations within blocks.")
    permutations = serializers.IntegerField()
    hits = serializers.IntegerField()
    haldane = serializers.BooleanField()
    clusters = serializers.IntegerField()
    n_treatment = serializers.IntegerField()
    n_control = serializers.IntegerField()
    totals = ArmsSerializer()
    means = ArmsSerializer()
    sentence = serializers.CharField()
    did_sentence = serializers.CharField()


class AreaCountsSerializer(serializers.Serializer):
    before = serializers.IntegerField()
    during = serializers.IntegerField()


class AreasSerializer(serializers.Serializer):
    treated_hotspots = AreaCountsSerializer()
    control_hotspots = AreaCountsSerializer()
    treated_buffer = AreaCountsSerializer()
    control_buffer = AreaCountsSerializer()
    shared_buffer_left_out = AreaCountsSerializer()


class WdqSerializer(serializers.Serializer):
    wdq = _num()
    success_measure = _num()
    buffer_measure = _num()
    gross_effect = _num()
    net_effect = _num()
    total_net_effect = _num()
    sentence = serializers.CharField()


class WddSerializer(serializers.Serializer):
    estimate = _num()
    local = _num()
    displacement = _num()
    variance = _num()
    se = _num()
    z = _num()
    p_value = _num()
    ci95 = serializers.ListField(child=_num(), min_length=2, max_length=2)
    sentence = serializers.CharField()


class DisplacementSerializer(serializers.Serializer):
    catchment_m = serializers.FloatField()
    areas = AreasSerializer()
    wdq = WdqSerializer()
    wdd = WddSerializer()
    sentence = serializers.CharField()


class DeterrenceBinSerializer(serializers.Serializer):
    # A field named like Field.label: the serializer's metaclass moves it out of the class.
    label = serializers.CharField()  # type: ignore[assignment]
    low_min = serializers.FloatField()
    high_min = _num(help_text="null: no upper limit.")
    visits = serializers.IntegerField()
    incidents = serializers.IntegerField()
    median_hours = _num()
    incident_free_24h = _num()


class DeterrenceSerializer(serializers.Serializer):
    horizon_hours = serializers.FloatField()
    bins = DeterrenceBinSerializer(many=True)
    sentence = serializers.CharField()


class WeekSerializer(serializers.Serializer):
    week_start = serializers.DateField()
    days = serializers.IntegerField()
    period = serializers.ChoiceField(choices=["before", "during"])
    treatment = serializers.IntegerField()
    control = serializers.IntegerField()
    treatment_per_hotspot_week = _num()
    control_per_hotspot_week = _num()


class WeeklySerializer(serializers.Serializer):
    weeks = WeekSerializer(many=True)
    sentence = serializers.CharField()


class HotspotRowSerializer(serializers.Serializer):
    hotspot_id = serializers.IntegerField()
    rank = serializers.IntegerField()
    district = serializers.CharField(allow_blank=True)
    block = serializers.CharField(allow_blank=True)
    arm = serializers.CharField()
    in_analysis = serializers.BooleanField()
    incidents_before = serializers.IntegerField()
    incidents_during = serializers.IntegerField()
    harm_before = serializers.FloatField()
    harm_during = serializers.FloatField()


class ExperimentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    design = serializers.CharField()
    status = serializers.CharField()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()


class PlaceDayImpactSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    rate_ratio = _num(help_text="Treated / control place-days, same hot spots; < 1: a fall.")
    ci95 = serializers.ListField(child=_num(), min_length=2, max_length=2)
    log_rate_ratio = _num()
    se_log_rate_ratio = _num(help_text="Cluster-robust (by hot spot).")
    p_randomization = _num(help_text="Two-sided, re-drawing each day within blocks.")
    permutations = serializers.IntegerField()
    hits = serializers.IntegerField()
    haldane = serializers.BooleanField()
    clusters = serializers.IntegerField()
    n_places = serializers.IntegerField()
    n_days = serializers.IntegerField()
    treated_place_days = serializers.IntegerField()
    control_place_days = serializers.IntegerField()
    treated_total = serializers.FloatField()
    control_total = serializers.FloatField()
    treated_mean = _num()
    control_mean = _num()
    sentence = serializers.CharField()


class PlaceDayResultsSerializer(serializers.Serializer):
    counts = PlaceDayImpactSerializer()
    harm = PlaceDayImpactSerializer()


class PlaceDayHotspotRowSerializer(serializers.Serializer):
    hotspot_id = serializers.IntegerField()
    rank = serializers.IntegerField()
    district = serializers.CharField(allow_blank=True)
    block = serializers.CharField(allow_blank=True)
    treated_days = serializers.IntegerField()
    control_days = serializers.IntegerField()
    incidents_treated_days = serializers.IntegerField()
    incidents_control_days = serializers.IntegerField()
    harm_treated_days = serializers.FloatField()
    harm_control_days = serializers.FloatField()


class WindowsSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    before = serializers.ListField(
        child=serializers.DateField(), min_length=2, max_length=2, required=False
    )
    during = serializers.ListField(child=serializers.DateField(), min_length=2, max_length=2)


class ExperimentImpactApi(APIView):
    """Impact of one experiment: crime and harm before vs during by arm, rate ratio with a
    cluster-robust 95% CI, difference in differences, randomization p-value, displacement
    (WDQ, WDD), residual deterrence and a weekly series; each figure with a sentence.
    Place-day designs compare treated with control place-days (``placeday``,
    ``placeday_hotspots``; ``did`` is null). ``supported`` is false (with ``message``) for
    experiments not randomized or without a full day yet. Cached per experiment and day."""

    permission_classes = [role_permission(*IMPACT_ROLES)]

    class InputSerializer(serializers.Serializer):
        permutations = serializers.IntegerField(
            min_value=0, max_value=MAX_PERMUTATIONS, default=10_000, required=False
        )
        seed = serializers.IntegerField(min_value=0, max_value=2**63 - 1, required=False)

    class OutputSerializer(serializers.Serializer):
        experiment = ExperimentRefSerializer()
        evaluated_on = serializers.DateField()
        seed = serializers.CharField(help_text="Seed of the re-randomizations (a 63-bit int).")
        supported = serializers.BooleanField()
        message = serializers.CharField(allow_blank=True)
        rate_ratio = _num()
        ci95 = serializers.ListField(child=_num(), min_length=2, max_length=2)
        did = _num()
        p_randomization = _num()
        permutations = serializers.IntegerField()
        sentence = serializers.CharField()
        windows = WindowsSerializer(required=False)
        harm_version = serializers.IntegerField(required=False)
        left_out = serializers.ListField(child=serializers.CharField(), required=False)
        counts = CountsImpactSerializer(required=False)
        harm = CountsImpactSerializer(required=False)
        displacement = DisplacementSerializer(required=False)
        deterrence = DeterrenceSerializer(required=False)
        weekly = WeeklySerializer(required=False)
        hotspots = HotspotRowSerializer(many=True, required=False)
        placeday = PlaceDayResultsSerializer(required=False, help_text="Place-day designs.")
        placeday_hotspots = PlaceDayHotspotRowSerializer(many=True, required=False)

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        experiment = get_object_or_404(Experiment.objects.select_related("run"), pk=pk)
        result = experiment_impact_cached(
            experiment=experiment,
            permutations=params.validated_data.get("permutations", 10_000),
            seed=params.validated_data.get("seed"),
        )
        return Response(self.OutputSerializer(result).data)
