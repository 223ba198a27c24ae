"""What a stream sends, read from the database: runs as the API shows them, one query per batch
of events, in the stream server's database thread (never on its event loop)."""

import json
import logging
from collections.abc import Collection

from django import db
from django.contrib.auth import get_user_model
from rest_framework.utils.encoders import JSONEncoder

from workflows.models import Run
from workflows.selectors import RUN_RELATED
from workflows.serializers import Run as RunShown

logger = logging.getLogger(__name__)


def runs_shown(run_ids: Collection[str]) -> dict[str, str]:
    """The runs that still exist among ``run_ids``, each as the JSON of GET /api/runs/{id}'s ``run``."""
    db.close_old_connections()  # one that broke (the database restarted) is replaced, not reused
    try:
        runs = list(Run.objects.select_related(*RUN_RELATED).filter(id__in=list(run_ids)).order_by())
        # One serializer for the batch: DRF copies a serializer's fields each time one is made.
        shown = RunShown(runs, many=True).data
        return {run["run_id"]: _json(run) for run in shown}
    except db.DatabaseError:
        db.connection.close()
        raise


def caller_active(user_id: int) -> bool:
    db.close_old_connections()
    try:
        return get_user_model().objects.filter(pk=user_id, is_active=True).exists()
    except db.DatabaseError:
        db.connection.close()
        raise


def frame(entry_id: str, fields: dict[str, str], run: str) -> bytes:
    """One server-sent event: its id (the stream's, for Last-Event-ID), its kind, and the data
    {"type", "run", "step"?}, the step's log JSON as the worker wrote it."""
    kind = fields["t"]
    step = f',"step":{fields["s"]}' if "s" in fields else ""
    return f'id: {entry_id}\nevent: {kind}\ndata: {{"type":"{kind}","run":{run}{step}}}\n\n'.encode()


def _json(value: object) -> str:
    return json.dumps(value, cls=JSONEncoder, separators=(",", ":"), ensure_ascii=False)


def message(kind: str, detail: str) -> bytes:
    """An event that is not a run's (reset): its kind and a detail saying what to do."""
    return f"event: {kind}\ndata: {_json({'type': kind, 'detail': detail})}\n\n".encode()
