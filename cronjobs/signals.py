from django.db.models.signals import post_delete
from django.dispatch import receiver
from django_celery_beat.models import PeriodicTask

from .models import CronJob


@receiver(post_delete, sender=CronJob)
def delete_periodic_task(sender, instance: CronJob, **kwargs) -> None:
    """A job's PeriodicTask goes with it, however the job is deleted (a service, or a cascade from
    its owner's deletion), so beat never keeps firing a job that no longer exists.

    Deleted through the ORM, not a raw query: django-celery-beat's own signals tell beat to reload.
    """
    PeriodicTask.objects.filter(pk=instance.periodic_task_id).delete()
