from django.apps import AppConfig


class CronjobsConfig(AppConfig):
    name = "cronjobs"
    verbose_name = "Cron jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (registers the receivers)
