"""The hand-built compliance day (``test_compliance.py``, figures worked out by hand) shared by
the page and API tests."""

from tests.reports.test_compliance import hand_built_day  # noqa: F401
