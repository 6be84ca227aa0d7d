"""The job types the job API offers: adding a type is one entry here (and its module)."""

from __future__ import annotations

from triggers.job_types import JobType
from triggers.monitor_job import MONITOR_JOB
from triggers.order_job import ORDER_JOB
from triggers.report_job import REPORT_JOB
from triggers.thumbnail_job import THUMBNAIL_JOB

JOB_TYPES: dict[str, JobType] = {
    job.name: job for job in (ORDER_JOB, MONITOR_JOB, THUMBNAIL_JOB, REPORT_JOB)
}


def job_type_of(job_id: str) -> JobType | None:
    """The type whose id pattern the job id matches, or None for an id no type could have given."""
    return next((job for job in JOB_TYPES.values() if job.owns(job_id)), None)
