from django.apps import AppConfig


class CronjobsConfig(AppConfig):
    name = "cronjobs"
    verbose_name = "Cron jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import periodic_tasks  # noqa: F401  (connects the receiver that deletes a job's task with it)
