from django import forms
from django.contrib import admin

from .models import Run, Workflow
from .runner import validate_steps


class WorkflowForm(forms.ModelForm):
    class Meta:
        model = Workflow
        fields = ("workflow_id", "owner", "name", "steps")

    def clean_steps(self):
        # The same check as the API, so an operator cannot save a workflow no run could execute.
        problems = validate_steps(self.cleaned_data["steps"])
        if problems:
            raise forms.ValidationError(problems)
        return self.cleaned_data["steps"]


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    form = WorkflowForm
    list_display = ("workflow_id", "name", "owner", "updated_at")
    search_fields = ("workflow_id", "name", "owner__username")
    list_select_related = ("owner",)
    readonly_fields = ("created_at", "updated_at")


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "workflow", "owner", "trigger", "status", "scheduled_for", "started_at", "finished_at")
    list_filter = ("status", "trigger")
    search_fields = ("id", "job__job_id", "workflow__workflow_id", "owner__username")
    list_select_related = ("job", "workflow", "owner")
    ordering = ("-created_at",)
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
