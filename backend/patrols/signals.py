"""Signals the patrols app sends; higher apps (reports) listen, patrols imports none of them."""

from django.dispatch import Signal

# Sent after a rollup's transaction commits, with ``day`` (agency-local date): that day's visits
# and device gaps were replaced. Reports recompute their compliance rows from it.
visits_rebuilt = Signal()
