"""Wire shapes of pipelines, versions and runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from joliba.schemas.common import Input, Model


class Parameter(Model):
    code: str
    type: str
    name: str
    help: str = ""
    default: Any = None
    choices: list[Any] | None = None
    multiple: bool = False
    required: bool = True
    widget: str | None = Field(
        default=None, description="A run-form picker, e.g. dhis2.data_elements"
    )
    connection: str | None = Field(
        default=None, description="The DHIS2Connection parameter a picker searches"
    )


class Version(Model):
    id: uuid.UUID
    number: int
    message: str
    function: str
    parameters: list[Parameter]
    timeout_seconds: int | None
    retries: int
    retry_delay_seconds: float
    archive_sha256: str
    archive_size: int
    requirements_sha256: str
    created_at: datetime


class RunLimits(Input):
    """Resource limits of a pipeline's runs that replace the instance's (None: the instance's)."""

    memory_mb: int | None = Field(default=None, ge=0, le=1_048_576, description="MiB; 0: none")
    cpu_seconds: int | None = Field(default=None, ge=0, le=31_536_000, description="0: none")
    processes: int | None = Field(default=None, ge=0, le=1_000_000, description="0: none")
    file_mb: int | None = Field(default=None, ge=0, le=1_048_576, description="MiB; 0: none")
    open_files: int | None = Field(default=None, ge=0, le=1_048_576, description="0: none")


class Pipeline(Model):
    id: uuid.UUID
    code: str
    name: str
    description: str
    created_at: datetime
    webhook_enabled: bool = False
    limits: RunLimits = Field(
        default_factory=RunLimits, description="Limits that replace the instance's for its runs"
    )
    latest_version: Version | None = None
    last_run_state: str | None = None


class RunCreate(Input):
    parameters: dict[str, Any] = Field(default_factory=dict, description="Values by code")
    version: int | None = Field(default=None, ge=1, description="Version number; latest if absent")


class RunOutput(Model):
    kind: str
    uri: str
    name: str
    created_at: datetime


class Run(Model):
    id: uuid.UUID
    pipeline: str = Field(description="Pipeline code")
    version: int
    state: str
    trigger: str
    trigger_detail: str
    triggered_by: str | None = Field(description="Email of the person who started it")
    parameters: dict[str, Any] = Field(description="Secret values show ********")
    attempt: int
    retry_of: uuid.UUID | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    progress: int | None
    progress_message: str
    exit_code: int | None
    error: str
    cancel_requested: bool
    outputs: list[RunOutput] = Field(default_factory=list)


class LogLine(Model):
    id: int
    at: datetime
    stream: str
    level: str
    message: str


class RunLogs(Model):
    items: list[LogLine]
    #: Pass as ``after`` to get the next lines.
    next_after: int
    state: str
    finished: bool


class Schedule(Model):
    id: uuid.UUID
    cron: str
    time_zone: str
    parameters: dict[str, Any] = Field(description="Secret values show ********")
    overlap: str
    enabled: bool
    next_at: datetime
    created_at: datetime


class ScheduleCreate(Input):
    cron: str = Field(max_length=100, description="Five fields, e.g. '0 6 * * 1'")
    time_zone: str | None = Field(
        default=None, max_length=64, description="IANA name; default: the workspace's"
    )
    parameters: dict[str, Any] = Field(default_factory=dict)
    overlap: str = Field(default="skip", description="skip or queue")
    enabled: bool = True


class ScheduleUpdate(Input):
    enabled: bool


class Webhook(Model):
    url: str = Field(description="POST a JSON object of parameter values here; shown once")


class PipelineTrigger(Model):
    source: str = Field(description="Code of the pipeline whose successful runs start this one")
    parameters: dict[str, Any]
    created_at: datetime


class PipelineTriggerSet(Input):
    source: str = Field(max_length=64)
    parameters: dict[str, Any] = Field(default_factory=dict)


class Recipient(Model):
    email: str
    notify_on: str = Field(description="failure or all")


class RecipientSet(Input):
    email: str = Field(max_length=320)
    notify_on: str = Field(default="failure", description="failure or all")
