from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_value
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from audit.models import AuditEvent
from vingine.errors import ApplicationError
from workflows.admin import TAGS_OFFERED, RunJobFilter, TagFilter
from workflows.models import Run

from . import services
from .models import CronJob, JobTag, Notification

# A job firing every few seconds has thousands of runs a day; its page shows only the newest
# and links to the run list for the rest.
RECENT_RUNS = 20
ERROR_CHARS = 80


def _bulk(modeladmin, request, queryset, service, verb: str) -> None:
    done = 0
    for job in queryset:
        try:
            service(user=request.user, job_id=job.job_id, via=AuditEvent.Via.ADMIN)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, exc.detail, messages.ERROR)
    modeladmin.message_user(request, f"{done} job(s) {verb}.", messages.SUCCESS)


@admin.action(description="Pause selected jobs")
def pause_jobs(modeladmin, request, queryset):
    _bulk(modeladmin, request, queryset, services.job_pause, "paused")


@admin.action(description="Resume selected jobs")
def resume_jobs(modeladmin, request, queryset):
    _bulk(modeladmin, request, queryset, services.job_resume, "resumed")


@admin.action(description="Run selected jobs now")
def trigger_jobs(modeladmin, request, queryset):
    _bulk(modeladmin, request, queryset, services.job_trigger, "triggered")


@admin.action(description="Cancel the queued and running runs of selected jobs")
def cancel_job_runs(modeladmin, request, queryset):
    _bulk(modeladmin, request, queryset, services.job_cancel_runs, "had their runs cancelled")


class PausedAfterFailures(admin.SimpleListFilter):
    """Jobs that paused themselves (pause_after_failures), apart from those a person paused."""

    title = "paused after failures"
    parameter_name = "paused_after_failures"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(paused=True).exclude(pause_reason="")
        if self.value() == "no":
            return queryset.filter(pause_reason="")
        return queryset


class JobTagFilter(TagFilter):
    def tags_in_use(self) -> list[str]:
        return list(JobTag.objects.order_by("tag").values_list("tag", flat=True).distinct()[:TAGS_OFFERED])

    def having(self, queryset, tag: str):
        return queryset.filter(pk__in=JobTag.objects.filter(tag=tag).values("job_id"))


@admin.register(CronJob)
class CronJobAdmin(admin.ModelAdmin):
    list_display = (
        "job_id",
        "owner",
        "workflow",
        "schedule_type",
        "schedule",
        "timezone",
        "paused",
        "tags",
        "updated_at",
    )
    # Only users who own a job are offered, not every user of the app.
    list_filter = (
        "paused",
        PausedAfterFailures,
        "schedule_type",
        ("owner", admin.RelatedOnlyFieldListFilter),
        "timezone",
        JobTagFilter,
    )
    search_fields = ("job_id", "workflow__workflow_id", "owner__username")
    list_select_related = ("owner", "workflow")
    actions = (pause_jobs, resume_jobs, trigger_jobs, cancel_job_runs)
    # Schedules change only through the API and the actions above, so the job and its
    # PeriodicTask are always written together.
    readonly_fields = (
        "job_id",
        "owner",
        "workflow",
        "input_text",
        "schedule_type",
        "cron_expression",
        "interval_seconds",
        "timezone",
        "paused",
        "paused_at",
        "pause_reason",
        "pause_after_failures",
        "tags",
        "metadata",
        "notify",
        "failing",
        "anchor",
        "periodic_task",
        "next_run",
        "created_at",
        "updated_at",
        "recent_runs",
        "history",
    )

    @admin.display(description="next run")
    def next_run(self, job):
        return job.next_run_time()

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        hidden = {
            name
            for name, model in (("recent_runs", Run), ("history", AuditEvent))
            if not self.admin_site.get_model_admin(model).has_view_permission(request)
        }
        return tuple(field for field in fields if field not in hidden)

    @admin.display(description="history")
    def history(self, job):
        changelist = reverse("admin:audit_auditevent_changelist", current_app=self.admin_site.name)
        query = urlencode({"kind__exact": AuditEvent.Kind.JOB, "object_id": job.job_id})
        return format_html('<a href="{}?{}">Changes to this job</a>', changelist, query)

    @admin.display(description="recent runs")
    def recent_runs(self, job):
        # "job" is loaded too: the related manager reads it to attach this job to each run.
        runs = list(
            job.runs.order_by("-created_at").only(
                "id", "job", "trigger", "status", "scheduled_for", "started_at", "finished_at", "error", "created_at"
            )[:RECENT_RUNS]
        )
        if not runs:
            return "No runs yet."
        # A short page already holds them all; only a full one needs the count.
        total = job.runs.count() if len(runs) == RECENT_RUNS else len(runs)
        site = self.admin_site.name
        empty = self.get_empty_value_display()
        rows = format_html_join(
            "\n",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:workflows_run_change", args=(run.pk,), current_app=site),
                    run.pk,
                    run.get_trigger_display(),
                    run.get_status_display(),
                    display_for_value(run.scheduled_for, empty),
                    display_for_value(run.started_at, empty),
                    display_for_value(run.finished_at, empty),
                    Truncator(run.error).chars(ERROR_CHARS),
                )
                for run in runs
            ),
        )
        changelist = reverse("admin:workflows_run_changelist", current_app=site)
        all_runs = f"{changelist}?{urlencode({RunJobFilter.parameter_name: job.pk})}"
        return format_html(
            "<table><thead><tr><th>run</th><th>trigger</th><th>status</th><th>scheduled for</th>"
            "<th>started at</th><th>finished at</th><th>error</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}">all {} run{}</a></p>',
            rows,
            all_runs,
            total,
            "" if total == 1 else "s",
        )

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        services.job_delete(user=request.user, job_id=obj.job_id, via=AuditEvent.Via.ADMIN)

    def delete_queryset(self, request, queryset):
        for job in queryset:
            services.job_delete(user=request.user, job_id=job.job_id, via=AuditEvent.Via.ADMIN)


class JobPeriodicTaskAdmin(PeriodicTaskAdmin):
    """django-celery-beat's own admin, plus a link from each task to the job it schedules.

    A job's task is written by the job's services; editing it here would leave the two out of
    step, so the link is the way to the job's page, where its actions are.
    """

    list_display = (*PeriodicTaskAdmin.list_display, "job")
    list_select_related = ("cronjob",)
    readonly_fields = (*PeriodicTaskAdmin.readonly_fields, "job")
    fieldsets = (
        (None, {"fields": ("job",)}),
        *PeriodicTaskAdmin.fieldsets,
    )

    @admin.display(description="job", ordering="cronjob__job_id")
    def job(self, task: PeriodicTask):
        job = getattr(task, "cronjob", None)
        if job is None:
            return self.get_empty_value_display()  # an operator's own task, not a job's
        url = reverse("admin:cronjobs_cronjob_change", args=(job.pk,), current_app=self.admin_site.name)
        return format_html('<a href="{}">{}</a>', url, job.job_id)


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, JobPeriodicTaskAdmin)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """What was told of jobs' failures and recoveries, and whether it arrived."""

    list_display = ("job", "event", "channel", "target", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "event", "channel")
    search_fields = ("job__job_id", "target")
    list_select_related = ("job",)
    ordering = ("-created_at",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
