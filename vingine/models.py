from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models


class ApiRateLimit(models.Model):
    """An operator's override of API_RATE_LIMIT_PER_MINUTE for one user."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_rate_limit")
    requests_per_minute = models.PositiveIntegerField(
        validators=[MinValueValidator(1)],
        help_text="Requests the user may make per minute; beyond it the API answers 429 until the minute ends.",
    )

    class Meta:
        verbose_name = "API rate limit"

    def __str__(self) -> str:
        return f"{self.owner}: {self.requests_per_minute} requests a minute"
