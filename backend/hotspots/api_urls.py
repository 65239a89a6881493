from backend.hotspots import import_api_urls

urlpatterns = [
    *import_api_urls.urlpatterns,
]
