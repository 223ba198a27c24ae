import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vingine.settings")

application = get_wsgi_application()

# Everything loaded so far lives as long as the process: the garbage collector need not walk it on
# every collection a request's objects set off.
gc.freeze()
