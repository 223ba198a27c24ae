import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vingine.settings")

app = Celery("vingine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
