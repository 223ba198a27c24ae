import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MinValueValidator
from django.db import models

from vingine.tags import MAX_TAG_LENGTH


class Workflow(models.Model):
    """An ordered list of steps, owned by one user. ``workflow_id`` is one global namespace."""

    workflow_id = models.CharField(max_length=200, unique=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200, blank=True)
    steps = models.JSONField(default=list)
    # Shown as given (vingine.tags); the tags are also rows of WorkflowTag, written with these, which
    # lists filter by on any database.
    tags = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workflow_id"]

    def __str__(self) -> str:
        return self.workflow_id


class WorkflowTag(models.Model):
    """One tag of a workflow, for finding its runs that have no job by tag (``cronjobs.JobTag``'s twin)."""

    # Looked up through workflowtag_workflow_tag, whose first column it is.
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="tag_rows", db_index=False)
    tag = models.CharField(max_length=MAX_TAG_LENGTH)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workflow", "tag"], name="workflowtag_workflow_tag")]
        indexes = [models.Index(fields=["tag", "workflow"], name="workflowtag_tag_workflow")]

    def __str__(self) -> str:
        return self.tag


class Run(models.Model):
    """One execution of a workflow, scheduled or manual."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        MANUAL = "manual"
        RERUN = "rerun"  # a repeat of an earlier run (rerun_of), same workflow and input
        BACKFILL = "backfill"  # one of a job's past slots, run on request

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped"
        CANCELLED = "cancelled"

    class WaitReason(models.TextChoices):
        # queued and held back: as many of its owner's runs as their concurrency limit allows are
        # queued for a worker or running; it is handed to a worker as one of them ends.
        CONCURRENCY_LIMIT = "concurrency_limit"
        # a backfill run waiting for its job's earlier backfill runs: a backfill is run oldest slot
        # first, one at a time under the job's overlap policy skip, a few at a time under allow.
        BACKFILL = "backfill"

    class Reason(models.TextChoices):
        MISSED = "missed"  # skipped: the slot passed while beat could not fire it
        OVERLAP = "overlap"  # skipped: the previous run of the job was still running
        ERROR = "error"  # failed: a step failed
        TIMEOUT = "timeout"  # failed: the run went over its time limit
        LOST = "lost"  # failed: the worker running it died

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # A job's runs go with the job; runs started from the workflow itself have no job.
    # job and owner are looked up through run_job_newest and run_owner_newest, whose first column they are.
    job = models.ForeignKey(
        "cronjobs.CronJob", null=True, blank=True, on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs", db_index=False)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    input_text = models.TextField(blank=True)
    output = models.JSONField(null=True, blank=True)
    steps = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # Why a run was skipped or failed without running its steps to the end, as a short machine
    # word the app can switch on (the human text is in ``error``).
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True)
    # Whether ``output`` or a step's output was cut to the size a run may keep.
    output_truncated = models.BooleanField(default=False)
    # When the run was handed to the workers (its message sent); from then on it counts
    # against its owner's concurrency limit. A queued run committed without it (the publisher died
    # or the broker was down right after the commit) is sent by the sweeper; the worker claims the
    # row first, so a second message is harmless.
    published_at = models.DateTimeField(null=True, blank=True)
    # Why a queued run has not been handed to the workers yet (blank: it is on its way).
    wait_reason = models.CharField(max_length=32, choices=WaitReason.choices, blank=True)
    # The worker that took the run (vingine.heartbeat.worker_id): when it stops sending heartbeats
    # while the run is still running, the reaper fails the run as lost.
    worker = models.CharField(max_length=255, blank=True)
    # Who asked to cancel the run, and when. A queued run ends cancelled then; a running one when
    # its worker stops it (workflows.cancellation), which may find it already ended.
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # The run this one repeats (trigger rerun).
    rerun_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns", db_index=False
    )
    # The job's tags when the run was recorded (the workflow's, for a run without a job), so a run
    # shows what it was tagged with in one read. Runs are found by tag through their job's (or
    # workflow's) tag rows, as they are now.
    tags = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # Every index a run's row is in costs each write of it. A run is written three times
        # (recorded, claimed, finished), so no index names the columns the claim changes (status,
        # started_at, worker): the claim is then a HOT update, rewriting no index (PostgreSQL needs
        # room on the row's page for it, hence the table's fillfactor, migration 0009). Runs are
        # found by state through partial indexes on when they were handed over and finished.
        indexes = [
            models.Index(fields=["job", "-created_at"], name="run_job_newest"),
            models.Index(fields=["owner", "-created_at"], name="run_owner_newest"),
            models.Index(fields=["created_at"], name="run_created"),  # /metrics reads a recent window
            # Queued or running: the sweeper, the reaper, /metrics.
            models.Index(fields=["created_at"], condition=models.Q(finished_at__isnull=True), name="run_unfinished"),
            # A user's runs held back by their concurrency limit, oldest first (dispatch.runs_release).
            models.Index(
                fields=["owner", "created_at"],
                condition=models.Q(wait_reason="concurrency_limit"),
                name="run_held",
            ),
            # A user's runs that count against their concurrency limit: handed over, not finished.
            models.Index(
                fields=["owner"],
                condition=models.Q(published_at__isnull=False, finished_at__isnull=True),
                name="run_in_flight",
            ),
            # A job's backfill runs waiting their turn, oldest slot first (dispatch.backfill_release).
            models.Index(
                fields=["job", "scheduled_for"],
                condition=models.Q(wait_reason="backfill"),
                name="run_backfill_waiting",
            ),
        ]
        constraints = [
            # A scheduled slot runs at most once, however many times it is fired.
            models.UniqueConstraint(
                fields=["job", "scheduled_for"], condition=models.Q(trigger="schedule"), name="run_one_per_slot"
            ),
            # A backfill runs a slot at most once, however many backfills cover it.
            models.UniqueConstraint(
                fields=["job", "scheduled_for"],
                condition=models.Q(trigger="backfill"),
                name="run_one_backfill_per_slot",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} run {self.id}"


class RunLimit(models.Model):
    """An operator's override of RUN_MAX_CONCURRENT_PER_USER for one user."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="run_limit")
    max_concurrent_runs = models.PositiveIntegerField(
        validators=[MinValueValidator(1)],
        help_text="At most this many of the user's runs are handed to workers at once; the rest wait, queued.",
    )

    class Meta:
        verbose_name = "run limit"

    def __str__(self) -> str:
        return f"{self.owner}: {self.max_concurrent_runs} at once"


class IdempotentRequest(models.Model):
    """The first answer to a request that started runs, under the caller's Idempotency-Key: the same
    key and request within IDEMPOTENCY_KEY_HOURS get this answer again and start nothing
    (workflows.idempotency)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # What the request was (method, path, body), hashed: the same key for another request is refused.
    fingerprint = models.CharField(max_length=64)
    response = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotent_request_key")]
        indexes = [models.Index(fields=["created_at"], name="idempotent_request_created")]

    def __str__(self) -> str:
        return f"{self.owner_id}: {self.key}"


class SigningSecret(models.Model):
    """A user's secret for signing the requests their runs send (workflows.signing), encrypted."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signing_secret")
    secret = models.TextField()  # encrypted
    created_at = models.DateTimeField()  # when ``secret`` was made
    # The secret before the last rotation (encrypted), which still signs until previous_until.
    previous = models.TextField(blank=True)
    previous_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"signing secret of {self.owner_id}"
