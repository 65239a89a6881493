"""Files that GIS programs open (ArcGIS Pro, QGIS, Power BI): GeoPackage, GeoJSON and CSV layers
written from one feature list, and boundary files read back. Not a Django app: no models, no
import of any app, so every app (hotspots, missions, reports) can use it."""
