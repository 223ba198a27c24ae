from django.urls import re_path

from .views import StreamTokenView

urlpatterns = [re_path(r"^stream/token/?$", StreamTokenView.as_view())]
