from django.urls import path

from tests.ext_django.project import views

urlpatterns = [
    path("info/", views.info),
    path("create/", views.create),
]
