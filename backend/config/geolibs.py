"""Where GeoDjango finds GDAL and GEOS without a system package.

django-leaflet's admin and form widgets import GeoDjango's ctypes bindings, which load
``libgdal`` and ``libgeos_c``. A system install (``apt-get install gdal-bin``) is preferred when
``ctypes.util.find_library`` sees one; otherwise the copies that pinned wheels already ship are
used: shapely bundles ``libgeos_c`` in ``shapely.libs/`` and pyogrio bundles ``libgdal`` in
``pyogrio.libs/``. So ``make demo`` needs only Python and make.

Settings call these once at start-up; they read no environment (settings does).
"""

from __future__ import annotations

import ctypes.util
import importlib.util
from pathlib import Path


def _wheel_library(package: str, pattern: str) -> str | None:
    """The first file matching ``pattern`` in ``<site-packages>/<package>.libs/``, if any."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        return None
    libs = Path(spec.origin).resolve().parent.parent / f"{package}.libs"
    found = sorted(libs.glob(pattern)) if libs.is_dir() else []
    return str(found[0]) if found else None


def geos_library_path() -> str | None:
    """Path of ``libgeos_c``: the system's if present, else shapely's bundled copy."""
    return ctypes.util.find_library("geos_c") or _wheel_library("shapely", "libgeos_c*.so*")


def gdal_library_path() -> str | None:
    """Path of ``libgdal``: the system's if present, else pyogrio's bundled copy."""
    return ctypes.util.find_library("gdal") or _wheel_library("pyogrio", "libgdal*.so*")
