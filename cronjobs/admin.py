from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_value, unquote
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django_celery_beat.admin import CrontabScheduleAdmin, IntervalScheduleAdmin, PeriodicTaskAdmin, PeriodicTaskForm
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler
from kombu.utils.imports import symbol_by_name

from audit.models import AuditEvent
from vingine.errors import ApplicationError
from workflows.admin import TAGS_OFFERED, RunJobFilter, TagFilter
from workflows.models import Run

from . import services
from .beat import JobScheduler
from .models import CronJob, JobTag, Notification
from .periodic_tasks import FIRE_TASK

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


class OperatorTaskForm(PeriodicTaskForm):
    def clean(self):
        data = super().clean()
        if data.get("task") == FIRE_TASK:
            raise ValidationError(f"{FIRE_TASK} fires jobs; schedule a workflow as a job through the API instead.")
        return data


def _job_of(task: PeriodicTask | None) -> CronJob | None:
    return getattr(task, "cronjob", None) if task is not None else None


class JobPeriodicTaskAdmin(PeriodicTaskAdmin):
    """django-celery-beat's own admin, for two kinds of rows.

    An operator's own task (no job behind it) is edited here as with django-celery-beat, and our
    beat runs it (``cronjobs.operator_tasks``). A job's task mirrors the job, written by the job's
    services; our beat fires the job by its own columns, so an edit here would change nothing.
    Its page is read-only and links to the job, and a save, delete or bulk action on it is refused
    with a message saying where the job is changed, rather than accepted and ignored.
    """

    form = OperatorTaskForm
    list_display = (*PeriodicTaskAdmin.list_display, "job")
    list_select_related = ("cronjob",)
    readonly_fields = (*PeriodicTaskAdmin.readonly_fields, "job")
    fieldsets = (
        (None, {"fields": ("job",)}),
        *PeriodicTaskAdmin.fieldsets,
    )

    @admin.display(description="job", ordering="cronjob__job_id")
    def job(self, task: PeriodicTask):
        job = _job_of(task)
        if job is None:
            return self.get_empty_value_display()  # an operator's own task, not a job's
        return self._job_link(job)

    def _job_link(self, job: CronJob):
        url = reverse("admin:cronjobs_cronjob_change", args=(job.pk,), current_app=self.admin_site.name)
        return format_html('<a href="{}">{}</a>', url, job.job_id)

    def has_change_permission(self, request, obj=None):
        return _job_of(obj) is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _job_of(obj) is None and super().has_delete_permission(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        job = _job_of(self.get_object(request, unquote(object_id))) if object_id else None
        if job is not None:
            link = self._job_link(job)
            if request.method == "POST":
                self.message_user(
                    request,
                    format_html(
                        "Not saved: this periodic task is job {}'s schedule, which this page cannot change. "
                        "Pause, resume or run the job on its page; change its schedule through the API.",
                        link,
                    ),
                    messages.ERROR,
                )
                return HttpResponseRedirect(request.get_full_path())
            self.message_user(
                request,
                format_html(
                    "This periodic task is job {}'s schedule and is read-only here: pause, resume or run "
                    "the job on its page; change its schedule through the API.",
                    link,
                ),
                messages.INFO,
            )
        return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        # django-celery-beat warns that tasks are not sent unless its own scheduler runs; ours sends them.
        if getattr(response, "context_data", None) is not None:
            scheduler = symbol_by_name(settings.CELERY_BEAT_SCHEDULER)
            response.context_data["wrong_scheduler"] = not issubclass(scheduler, (JobScheduler, DatabaseScheduler))
        return response

    def _operators_only(self, request, queryset):
        """The selected tasks that are not jobs'; the jobs' ones are left as they are, saying so."""
        jobs = sorted(queryset.filter(cronjob__isnull=False).values_list("cronjob__job_id", flat=True))
        if jobs:
            self.message_user(
                request,
                f"Left unchanged: {len(jobs)} task(s) of jobs ({', '.join(jobs)}). "
                "Pause, resume or run jobs from the job list (Cron jobs).",
                messages.WARNING,
            )
        return queryset.filter(cronjob__isnull=True)

    def _action(self, request, queryset, action) -> None:
        queryset = self._operators_only(request, queryset)
        if queryset.exists():
            action(self, request, queryset)

    @admin.action(description=PeriodicTaskAdmin.enable_tasks.short_description)
    def enable_tasks(self, request, queryset):
        self._action(request, queryset, PeriodicTaskAdmin.enable_tasks)

    @admin.action(description=PeriodicTaskAdmin.disable_tasks.short_description)
    def disable_tasks(self, request, queryset):
        self._action(request, queryset, PeriodicTaskAdmin.disable_tasks)

    @admin.action(description=PeriodicTaskAdmin.toggle_tasks.short_description)
    def toggle_tasks(self, request, queryset):
        self._action(request, queryset, PeriodicTaskAdmin.toggle_tasks)

    @admin.action(description=PeriodicTaskAdmin.run_tasks.short_description)
    def run_tasks(self, request, queryset):
        self._action(request, queryset, PeriodicTaskAdmin.run_tasks)


class JobScheduleAdminMixin:
    """A schedule row a job's task uses is shared by every job with that schedule and shown for
    display only: editing or deleting it here would change no job, so it is read-only."""

    def _used_by_jobs(self, obj) -> bool:
        return obj is not None and obj.periodictask_set.filter(cronjob__isnull=False).exists()

    def has_change_permission(self, request, obj=None):
        return not self._used_by_jobs(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._used_by_jobs(obj) and super().has_delete_permission(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id and self._used_by_jobs(self.get_object(request, unquote(object_id))):
            self.message_user(
                request,
                "Jobs' periodic tasks use this schedule, which is read-only here: change a job's "
                "schedule through the API. Give an operator's task a schedule row of its own.",
                messages.INFO,
            )
        return super().changeform_view(request, object_id, form_url, extra_context)


class JobCrontabScheduleAdmin(JobScheduleAdminMixin, CrontabScheduleAdmin):
    pass


class JobIntervalScheduleAdmin(JobScheduleAdminMixin, IntervalScheduleAdmin):
    pass


for model, model_admin in (
    (PeriodicTask, JobPeriodicTaskAdmin),
    (CrontabSchedule, JobCrontabScheduleAdmin),
    (IntervalSchedule, JobIntervalScheduleAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)


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
