"""The harm index page: the current weights, and a new version (analysts)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from backend.accounts.models import Role
from backend.accounts.permissions import role_required
from backend.incidents.forms import HarmIndexForm
from backend.incidents.models import OffenceType
from backend.incidents.selectors import harm_version_current
from backend.incidents.services import harm_version_create

VIEW_ROLES = (Role.SERGEANT, Role.SUPERVISOR, Role.ANALYST)


@role_required(*VIEW_ROLES)
def harm_index(request: HttpRequest) -> HttpResponse:
    can_edit = request.user.has_role(Role.ANALYST)  # type: ignore[union-attr]
    if request.method == "POST":
        if not can_edit:
            return HttpResponse("Only analysts edit the harm index.", status=403)
        offences = list(OffenceType.objects.values_list("code", "name"))
        form = HarmIndexForm(request.POST, offences=offences)
        if not form.is_valid():
            for name, errors in form.errors.items():
                label = form.fields[name].label or name if name in form.fields else name
                messages.error(request, f"{label}: {' '.join(errors)}")
            return redirect("incidents:harm")
        try:
            version = harm_version_create(
                weights=form.weights(), actor=request.user, note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                messages.error(request, f"{field}: {' '.join(errors)}")
            return redirect("incidents:harm")
        messages.success(request, f"Saved harm index version {version.number}.")
        return redirect("incidents:harm")
    version = harm_version_current()
    return render(
        request,
        "incidents/harm.html",
        {
            "version": version,
            "weights": version.weights.select_related("offence").order_by(
                "offence__group", "-days", "offence__name"
            ),
            "can_edit": can_edit,
        },
    )
