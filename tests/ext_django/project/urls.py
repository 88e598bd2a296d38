from django.urls import path

from tests.ext_django.project import views

urlpatterns = [
    path("info/", views.info),
    path("create/", views.create),
    path("replica/read/", views.replica_read),
    path("replica/write/", views.replica_write),
]
