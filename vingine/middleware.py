from django.conf import settings
from django.http import JsonResponse


class BodySizeLimitMiddleware:
    """Refuse oversized bodies up front with the API's error shape (413), before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return JsonResponse({"detail": "Content-Length header is not a number of bytes"}, status=400)
        if length > limit:
            return JsonResponse(
                {"detail": f"Request body is {length} bytes; the limit is {limit} bytes (1 MiB)"}, status=413
            )
        if "CONTENT_LENGTH" not in request.META and request.META.get("HTTP_TRANSFER_ENCODING"):
            # Django reads no more than Content-Length says: a chunked body would be taken for an
            # empty one, and the request refused for fields it did send.
            return JsonResponse(
                {"detail": "Send the body with a Content-Length header; chunked bodies are not read"}, status=411
            )
        return self.get_response(request)
