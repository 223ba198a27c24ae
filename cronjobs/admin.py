from django.contrib import admin, messages

from vingine.errors import ApplicationError
from workflows.models import Run

from . import services
from .models import CronJob


class RunInline(admin.TabularInline):
    model = Run
    fields = ("id", "trigger", "status", "scheduled_for", "started_at", "finished_at", "error")
    readonly_fields = fields
    ordering = ("-created_at",)
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("workflow", "owner")


def _bulk(modeladmin, request, queryset, service, verb: str) -> None:
    done = 0
    for job in queryset:
        try:
            service(user=request.user, job_id=job.job_id)
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


@admin.register(CronJob)
class CronJobAdmin(admin.ModelAdmin):
    list_display = ("job_id", "owner", "workflow", "schedule_type", "schedule", "timezone", "paused", "updated_at")
    list_filter = ("paused", "schedule_type", "timezone")
    search_fields = ("job_id", "workflow__workflow_id", "owner__username")
    list_select_related = ("owner", "workflow")
    actions = (pause_jobs, resume_jobs, trigger_jobs)
    inlines = (RunInline,)
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
        "anchor",
        "periodic_task",
        "next_run",
        "created_at",
        "updated_at",
    )

    @admin.display(description="next run")
    def next_run(self, job):
        return job.next_run_time()

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        services.job_delete(user=request.user, job_id=obj.job_id)

    def delete_queryset(self, request, queryset):
        for job in queryset:
            services.job_delete(user=request.user, job_id=job.job_id)
