import os

from celery import Celery, signals

from . import broker, heartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vingine.settings")

app = Celery("vingine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

broker.patch_redis_channel()


# Connected here, where `celery -A vingine` starts, so that they are in place before the worker
# sends them. worker_init comes before the pool starts: its processes inherit the worker's id.
@signals.worker_init.connect
def _worker_init(sender, **kwargs) -> None:
    heartbeat.worker_starting(getattr(sender, "hostname", None) or "worker")


@signals.worker_ready.connect
def _worker_ready(sender, **kwargs) -> None:
    heartbeat.worker_ready()
