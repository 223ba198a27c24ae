from django.contrib import admin

from .models import ApiRateLimit


@admin.register(ApiRateLimit)
class ApiRateLimitAdmin(admin.ModelAdmin):
    """Per-user overrides of API_RATE_LIMIT_PER_MINUTE."""

    list_display = ("owner", "requests_per_minute")
    search_fields = ("owner__username",)
    autocomplete_fields = ("owner",)
    list_select_related = ("owner",)
