import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from cronjobs.models import CronJob, JobTag
from vingine import tags as tag_rules
from vingine.errors import ApplicationError

from . import services
from .dispatch import in_flight, max_concurrent
from .models import Run, RunLimit, Workflow, WorkflowTag
from .redaction import redact_steps, restore_redacted
from .run_filters import RunFilter
from .runs import runs_cancel
from .steps import validate_steps

TAGS_OFFERED = 50  # the sidebar offers the first tags in use by name, not every one


class TagFilter(admin.SimpleListFilter):
    """Rows with one tag, among the tags in use. A subclass says which tags are in use and which
    rows have a tag, through the tag tables (the same on every database)."""

    title = "tag"
    parameter_name = "tag"

    def tags_in_use(self) -> list[str]:
        raise NotImplementedError

    def having(self, queryset, tag: str):
        raise NotImplementedError

    def lookups(self, request, model_admin):
        offered = self.tags_in_use()
        value = self.value()
        # A tag chosen beyond the first TAGS_OFFERED (or by a link) is offered too: a filter without
        # the chosen value among its choices is dropped, and the page would list every row.
        if value is not None and value not in offered:
            offered.append(value)
        return [(tag, tag) for tag in offered]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not tag_rules.is_tag(value):
            return queryset.none()  # no row has it: a malformed tag filters to nothing
        return self.having(queryset, value)


class WorkflowTagFilter(TagFilter):
    def tags_in_use(self) -> list[str]:
        return list(WorkflowTag.objects.order_by("tag").values_list("tag", flat=True).distinct()[:TAGS_OFFERED])

    def having(self, queryset, tag: str):
        return queryset.filter(pk__in=WorkflowTag.objects.filter(tag=tag).values("workflow_id"))


class RunTagFilter(TagFilter):
    """Runs whose job has the tag, or, without a job, whose workflow has it (as GET /api/runs?tag=)."""

    def tags_in_use(self) -> list[str]:
        jobs = JobTag.objects.values_list("tag", flat=True)
        workflows = WorkflowTag.objects.values_list("tag", flat=True)
        return list(jobs.union(workflows).order_by("tag")[:TAGS_OFFERED])

    def having(self, queryset, tag: str):
        return RunFilter(tags=(tag,)).apply(queryset)


class WorkflowForm(forms.ModelForm):
    class Meta:
        model = Workflow
        fields = ("workflow_id", "owner", "name", "steps", "tags", "metadata")
        help_texts = {
            "tags": f'A JSON list, like ["video", "team:growth"]: at most {tag_rules.MAX_TAGS} tags, '
            f"each {tag_rules.TAG_RULE}.",
            "metadata": f"A JSON object of at most {tag_rules.METADATA_MAX_BYTES} bytes, nested at most "
            f"{tag_rules.METADATA_MAX_DEPTH} levels deep.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Operators see a user's secret headers as "[redacted]"; saving the form keeps them.
        if self.instance.pk:
            self.initial["steps"] = redact_steps(self.instance.steps)

    def clean_steps(self):
        steps = self.cleaned_data["steps"]
        if self.instance.pk:
            steps = restore_redacted(steps, self.instance.steps)
        # The same check as the API, so an operator cannot save a workflow no run could execute.
        problems = validate_steps(steps)
        if problems:
            raise forms.ValidationError(problems)
        return steps

    # The same rules as the API's; left empty, none.
    def clean_tags(self):
        try:
            return tag_rules.clean_tags(self.cleaned_data["tags"] or [])
        except tag_rules.Invalid as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_metadata(self):
        try:
            return tag_rules.clean_metadata(self.cleaned_data["metadata"] or {})
        except tag_rules.Invalid as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    form = WorkflowForm
    fields = ("workflow_id", "owner", "name", "steps", "tags", "metadata", "created_at", "updated_at")
    list_display = ("workflow_id", "name", "owner", "tags", "updated_at")
    list_filter = (WorkflowTagFilter,)
    search_fields = ("workflow_id", "name", "owner__username")
    list_select_related = ("owner",)
    readonly_fields = ("created_at", "updated_at")

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            # A view-only page shows field values as stored: show the redacted steps instead.
            return [("redacted_steps" if name == "steps" else name) for name in fields]
        return fields

    @admin.display(description="steps")
    def redacted_steps(self, obj):
        return json.dumps(redact_steps(obj.steps), indent=2)

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is None:
            return readonly
        if not self.has_change_permission(request, obj):
            return ("redacted_steps", *readonly)
        # A job may only use its owner's workflow: a new owner would leave the old owner's jobs
        # running someone else's workflow. The id is how the owner's API calls name it, so it stays too.
        return ("workflow_id", "owner", *readonly)

    # Saved and deleted through the services, as the API does, so each change is in the history.
    def save_model(self, request, obj, form, change):
        saved = services.workflow_save(
            owner=obj.owner,
            workflow_id=obj.workflow_id,
            name=obj.name,
            steps=obj.steps,
            tags=obj.tags,
            metadata=obj.metadata,
            actor=request.user,
            via=AuditEvent.Via.ADMIN,
        )
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at

    def delete_model(self, request, obj):
        services.workflow_delete(user=request.user, workflow_id=obj.workflow_id, via=AuditEvent.Via.ADMIN)

    def delete_queryset(self, request, queryset):
        for workflow in queryset:
            self.delete_model(request, workflow)


class RunJobFilter(admin.SimpleListFilter):
    """Runs of one job, reached from the job's page.

    A job firing every few seconds has thousands of runs, and there can be many jobs, so the
    sidebar offers only the job already chosen instead of listing every job.
    """

    title = "job"
    parameter_name = "job__id__exact"

    def lookups(self, request, model_admin):
        value = self.value()
        if value is None:
            return ()
        job_id = None
        if value.isdecimal():
            job_id = CronJob.objects.filter(pk=value).values_list("job_id", flat=True).first()
        # Offered even for an unknown id: a filter without choices is dropped, and the page would
        # then list every run instead of none.
        return ((value, job_id or value),)

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        try:
            return queryset.filter(job__id=self.value())
        except (ValueError, ValidationError) as exc:
            raise IncorrectLookupParameters(exc) from exc


@admin.action(description="Cancel selected runs (those queued or running)")
def cancel_runs(modeladmin, request, queryset):
    try:
        cancelled, stopping = runs_cancel(queryset, by=request.user)
    except ApplicationError as exc:
        modeladmin.message_user(request, exc.detail, messages.ERROR)
        return
    modeladmin.message_user(
        request, f"{cancelled} queued run(s) cancelled, {stopping} running run(s) being stopped.", messages.SUCCESS
    )


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "job",
        "workflow",
        "owner",
        "trigger",
        "status",
        "wait_reason",
        "scheduled_for",
        "started_at",
        "finished_at",
    )
    list_filter = ("status", "wait_reason", "trigger", RunJobFilter, RunTagFilter)
    search_fields = ("id", "job__job_id", "workflow__workflow_id", "owner__username")
    list_select_related = ("job", "workflow", "owner")
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    actions = (cancel_runs,)

    def get_readonly_fields(self, request, obj=None):
        return [*(field.name for field in self.model._meta.fields), "waiting"]

    @admin.display(description="waiting")
    def waiting(self, run: Run) -> str:
        """Why a queued run has not started, with the numbers behind it."""
        if run.status != Run.Status.QUEUED:
            return "-"
        if run.wait_reason == Run.WaitReason.BACKFILL:
            return "A backfill run: it waits for its job's earlier backfill runs, oldest slot first"
        if run.wait_reason != Run.WaitReason.CONCURRENCY_LIMIT:
            return "On its way to a worker" if run.published_at else "Being handed to a worker"
        limit = max_concurrent([run.owner_id])[run.owner_id]
        used = in_flight([run.owner_id])[run.owner_id]
        return (
            f"Held back: {used} of {run.owner}'s runs are queued for a worker or running, and their limit is "
            f"{limit} at once (a run limit, or RUN_MAX_CONCURRENT_PER_USER). It starts as one of them ends."
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RunLimit)
class RunLimitAdmin(admin.ModelAdmin):
    """Per-user overrides of RUN_MAX_CONCURRENT_PER_USER."""

    list_display = ("owner", "max_concurrent_runs")
    search_fields = ("owner__username",)
    autocomplete_fields = ("owner",)
    list_select_related = ("owner",)
