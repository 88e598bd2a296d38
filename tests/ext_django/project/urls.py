from django.urls import include, path

from pgmonkey_django import health
from tests.ext_django.project import views

urlpatterns = [
    path("info/", views.info),
    path("create/", views.create),
    path("drain/ready/", views.drain_ready),
    path("drain/slow/<str:name>/", views.drain_slow),
    path("replica/read/", views.replica_read),
    path("replica/write/", views.replica_write),
    path("", include("pgmonkey_django.urls")),
    # Aliases the health tests add while they run (tests/ext_django/test_health.py).
    path("health/pooled/readyz", health.readyz, {"database": "health_pooled", "timeout": 1}),
    path("health/plain/readyz", health.readyz, {"database": "health_plain", "timeout": 1}),
]
