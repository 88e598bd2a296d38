from django.apps import AppConfig


class ProjectConfig(AppConfig):
    name = "tests.ext_django.project"
    label = "pgmdjproject"
    default_auto_field = "django.db.models.BigAutoField"
