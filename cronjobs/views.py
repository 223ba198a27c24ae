from django.conf import settings
from rest_framework import viewsets
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from vingine.errors import InvalidInput

from . import selectors, services
from .serializers import CronJobInput, IntervalJobInput

ALL_JOBS_FORBIDDEN = "Only operators (staff users) can list all jobs"


class StaffOnly(IsAdminUser):
    message = ALL_JOBS_FORBIDDEN


class CronJobViewSet(viewsets.ViewSet):
    def get_permissions(self):
        if self.action == "list_all":
            return [IsAuthenticated(), StaffOnly()]
        return super().get_permissions()

    def list(self, request: Request) -> Response:
        jobs = [job.to_dict() for job in selectors.job_list(user=request.user)]
        return Response({"status": "success", "user_id": request.user.username, "total_jobs": len(jobs), "jobs": jobs})

    def list_all(self, request: Request) -> Response:
        jobs = [job.to_dict() for job in selectors.job_list()]
        return Response({"status": "success", "total_jobs": len(jobs), "jobs": jobs})

    def create_cron(self, request: Request) -> Response:
        body = CronJobInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        spec = services.cron_spec(expression=data["cron_expression"], timezone_name=data["timezone"])
        job = self._upsert(request, data, spec)
        return Response(
            {"status": "success", "message": f"Cron job {job.job_id} created successfully", "job": job.to_dict()}
        )

    def create_interval(self, request: Request) -> Response:
        body = IntervalJobInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        spec = services.interval_spec(
            hours=data["hours"], minutes=data["minutes"], seconds=data["seconds"], timezone_name=data["timezone"]
        )
        job = self._upsert(request, data, spec)
        return Response(
            {"status": "success", "message": f"Interval job {job.job_id} created successfully", "job": job.to_dict()}
        )

    def _upsert(self, request: Request, data: dict, spec: services.ScheduleSpec):
        return services.job_upsert(
            caller=request.user,
            job_id=data["job_id"],
            workflow_id=data["workflow_id"],
            user_id=data.get("user_id"),
            input_text=data["input"],
            spec=spec,
            misfire_grace_seconds=data["misfire_grace_seconds"],
            overlap=data["overlap"],
        )

    def retrieve(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get_for(user=request.user, job_id=job_id)
        return Response({"status": "success", "job": job.to_dict()})

    def destroy(self, request: Request, job_id: str) -> Response:
        services.job_delete(user=request.user, job_id=job_id)
        return self._done(job_id, "deleted")

    def trigger(self, request: Request, job_id: str) -> Response:
        run = services.job_trigger(user=request.user, job_id=job_id)
        response = self._done(job_id, "triggered")
        response.data["run_id"] = str(run.id)
        return response

    def pause(self, request: Request, job_id: str) -> Response:
        services.job_pause(user=request.user, job_id=job_id)
        return self._done(job_id, "paused")

    def resume(self, request: Request, job_id: str) -> Response:
        services.job_resume(user=request.user, job_id=job_id)
        return self._done(job_id, "resumed")

    def runs(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get_for(user=request.user, job_id=job_id)
        limit = _limit(request, default=50, maximum=settings.RUNS_PAGE_MAX)
        runs, total = selectors.run_page_for_job(job=job, limit=limit)
        return Response(
            {"status": "success", "job_id": job.job_id, "total_runs": total, "runs": [run.to_dict() for run in runs]}
        )

    @staticmethod
    def _done(job_id: str, verb: str) -> Response:
        return Response({"status": "success", "message": f"Job {job_id} {verb} successfully", "job_id": job_id})


def _limit(request: Request, *, default: int, maximum: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    # isdigit() alone also accepts digits int() refuses ("²"), and int() refuses very long strings.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or not 1 <= int(raw) <= maximum:
        raise InvalidInput(f"limit must be a whole number from 1 to {maximum}")
    return int(raw)
