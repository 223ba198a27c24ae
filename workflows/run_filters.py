"""The run lists' filters (``GET /api/runs``, ``GET /api/cron/jobs/{job_id}/runs``): read from the query
string, documented in the schema, applied to the lists' SQL (``where``) and to a queryset of runs
(``apply``, the admin's), which tests/workflows/test_run_filters.py keeps in agreement.

Only plain column comparisons and subqueries on the tag tables: the same on PostgreSQL and SQLite,
and each on top of the index the list reads by ((owner, -created_at) or (job, -created_at)).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from cronjobs.models import JobTag
from vingine import filters
from vingine.schema import choices_parameter, tag_parameter, time_range_parameters

from .models import Run, WorkflowTag


@dataclass(frozen=True)
class RunFilter:
    tags: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before

    @classmethod
    def from_request(cls, request: Request) -> "RunFilter":
        since, until = filters.time_range_from(request)
        return cls(
            tags=filters.tags_from(request),
            statuses=filters.choices_from(request, "status", Run.Status.values),
            since=since,
            until=until,
        )

    @staticmethod
    def parameters() -> list[OpenApiParameter]:
        return [
            tag_parameter(
                description="Only runs whose job has this tag (for a run without a job, its workflow); "
                "repeated (tag=a&tag=b), every tag given."
            ),
            choices_parameter(
                "status", Run.Status.values, description="Only runs in this status; repeated, in any of them."
            ),
            *time_range_parameters(field="created_at (when the run was recorded)"),
        ]

    def where(self, alias: str) -> tuple[list[str], list]:
        """The filter as SQL conditions on the runs table (``alias``), and their parameters."""
        quote = connection.ops.quote_name

        def column(model, name: str) -> str:
            return quote(model._meta.get_field(name).column)

        conditions, params = [], []
        for tag in self.tags:
            conditions.append(
                f"({alias}.{column(Run, 'job')} IN (SELECT g.{column(JobTag, 'job')} FROM"
                f" {quote(JobTag._meta.db_table)} g WHERE g.{column(JobTag, 'tag')} = %s)"
                f" OR ({alias}.{column(Run, 'job')} IS NULL AND {alias}.{column(Run, 'workflow')} IN"
                f" (SELECT w.{column(WorkflowTag, 'workflow')} FROM {quote(WorkflowTag._meta.db_table)} w"
                f" WHERE w.{column(WorkflowTag, 'tag')} = %s)))"
            )
            params += [tag, tag]
        if self.statuses:
            conditions.append(f"{alias}.{column(Run, 'status')} IN ({', '.join(['%s'] * len(self.statuses))})")
            params += self.statuses
        created = Run._meta.get_field("created_at")
        if self.since is not None:
            conditions.append(f"{alias}.{quote(created.column)} >= %s")
            params.append(created.get_db_prep_value(self.since, connection))
        if self.until is not None:
            conditions.append(f"{alias}.{quote(created.column)} < %s")
            params.append(created.get_db_prep_value(self.until, connection))
        return conditions, params

    def apply(self, runs: QuerySet[Run]) -> QuerySet[Run]:
        # A run is found by its job's tags as they are now, or its workflow's for a run without a job.
        for tag in self.tags:
            runs = runs.filter(
                Q(job__in=JobTag.objects.filter(tag=tag).values("job_id"))
                | Q(job__isnull=True, workflow__in=WorkflowTag.objects.filter(tag=tag).values("workflow_id"))
            )
        if self.statuses:
            runs = runs.filter(status__in=self.statuses)
        if self.since is not None:
            runs = runs.filter(created_at__gte=self.since)
        if self.until is not None:
            runs = runs.filter(created_at__lt=self.until)
        return runs
