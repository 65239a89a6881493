from backend.hotspots import import_urls

app_name = "hotspots"

urlpatterns = [
    *import_urls.urlpatterns,
]
