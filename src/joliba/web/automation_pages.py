"""What starts a pipeline by itself, and who hears about its runs: one page per pipeline.

``/w/{ws}/pipelines/{code}/automation``, linked from the pipeline's page, shows its cron
schedules, its webhook, the pipelines whose success starts it (triggers) and the members
emailed about its runs. Editors and admins change them through forms that post to the same
paths as the API twins (``…/schedules``, ``…/webhook``, ``…/triggers``, ``…/recipients``);
viewers see the lists only.

Schedules and triggers take parameter values in the run form's generated fields
(:func:`joliba.web.pipeline_pages.parameter_fields`), checked against the latest version;
secrets are sealed and only ever shown as ``********``. A new webhook URL is rendered on the
page that answers the post — never put in a redirect — because it is shown only once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from joliba.api.deps import PlatformDep
from joliba.db.tables import PipelineVersion
from joliba.domain.errors import Invalid, NotFound
from joliba.domain.paging import MAX_PAGE_SIZE, PageRequest
from joliba.domain.parameters import CONNECTION_TYPES
from joliba.domain.permissions import Action
from joliba.services import (
    dataset_triggers,
    datasets,
    members,
    pipelines,
    recipients,
    runs,
    schedules,
    triggers,
    webhooks,
    workspaces,
)
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.forms import FormDep, problem, see_other, text
from joliba.web.nav import workspace_context
from joliba.web.pipeline_pages import (
    FormField,
    mark_parameter_error,
    parameter_fields,
    submitted_values,
)
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])
BASE = "/w/{ws}/pipelines/{code}"

#: The fields each form names in its errors (``details["field"]``), besides parameters.
FORM_FIELDS: dict[str, tuple[str, ...]] = {
    "schedule": ("cron", "time_zone", "overlap"),
    "trigger": ("source",),
    "dataset_trigger": ("dataset",),
    "recipient": ("email", "notify_on"),
}
#: Values of each type for the webhook's curl example, when a parameter has no default.
SAMPLES: dict[str, Any] = {"int": 1, "float": 1.5, "bool": True}


@dataclass
class Posted:
    """A form that failed: which one, what it sent, and why."""

    name: str
    form: FormData
    exc: Invalid


def automation_url(ws: str, code: str) -> str:
    return f"/w/{ws}/pipelines/{code}/automation"


@router.get(BASE + "/automation")
def automation_page(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str
) -> Response:
    return _page(request, platform, actor, ws, code)


# ----- Schedules -----


@router.post(BASE + "/schedules")
def schedule_create(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str, form: FormDep
) -> Response:
    try:
        with platform.db.transaction() as session:
            access = workspaces.authorize(session, actor, ws, Action.PIPELINE_WRITE)
            pipeline = pipelines.get(session, access, code)
            version = pipelines.get_version(session, pipeline, None)
            schedules.create(
                session,
                access,
                platform.box,
                pipeline,
                cron=text(form, "cron"),
                time_zone=text(form, "time_zone") or None,
                parameters=submitted_values(runs.specs_of(version), form),
                overlap=text(form, "overlap") or "skip",
            )
    except Invalid as exc:
        return _page(request, platform, actor, ws, code, posted=Posted("schedule", form, exc))
    platform.signals.queued()  # the runner recomputes when to wake
    return see_other(automation_url(ws, code), "Schedule added.")


@router.post(BASE + "/schedules/{schedule_id}/pause")
def schedule_pause(
    platform: PlatformDep, actor: PageActor, ws: str, code: str, schedule_id: str
) -> Response:
    return _set_enabled(platform, actor, ws, code, schedule_id, enabled=False)


@router.post(BASE + "/schedules/{schedule_id}/resume")
def schedule_resume(
    platform: PlatformDep, actor: PageActor, ws: str, code: str, schedule_id: str
) -> Response:
    return _set_enabled(platform, actor, ws, code, schedule_id, enabled=True)


def _set_enabled(
    platform: Platform, actor: Actor, ws: str, code: str, schedule_id: str, *, enabled: bool
) -> Response:
    with platform.db.transaction() as session:
        access = workspaces.authorize(session, actor, ws, Action.PIPELINE_WRITE)
        pipeline = pipelines.get(session, access, code)
        schedule = schedules.get(session, pipeline, schedule_id)
        schedules.set_enabled(session, access, schedule, enabled)
    platform.signals.queued()
    return see_other(
        automation_url(ws, code), "Schedule resumed." if enabled else "Schedule paused."
    )


@router.post(BASE + "/schedules/{schedule_id}/delete")
def schedule_delete(
    platform: PlatformDep, actor: PageActor, ws: str, code: str, schedule_id: str
) -> Response:
    with platform.db.transaction() as session:
        access = workspaces.authorize(session, actor, ws, Action.PIPELINE_WRITE)
        pipeline = pipelines.get(session, access, code)
        schedules.delete(session, access, schedules.get(session, pipeline, schedule_id))
    return see_other(automation_url(ws, code), "Schedule deleted.")


# ----- Webhook -----


@router.post(BASE + "/webhook")
def webhook_create(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str
) -> Response:
    with platform.db.transaction() as session:
        access = workspaces.authorize(session, actor, ws, Action.PIPELINE_WRITE)
        secret = webhooks.enable(session, access, pipelines.get(session, access, code))
    url = f"{platform.settings.base_url.rstrip('/')}/api/v1/hooks/{secret}"
    # Rendered, not redirected: the URL must not travel in a Location header, and is shown
    # only now.
    response = _page(request, platform, actor, ws, code, webhook_url=url)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post(BASE + "/webhook/off")
def webhook_off(platform: PlatformDep, actor: PageActor, ws: str, code: str) -> Response:
    with platform.db.transaction() as session:
        access = workspaces.authorize(session, actor, ws, Action.PIPELINE_WRITE)
        webhooks.disable(session, access, pipelines.get(session, access, code))
    return see_other(automation_url(ws, code), "Webhook turned off: its URL no longer works.")


# ----- Triggers -----


@router.post(BASE + "/triggers")
def trigger_set(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str, form: FormDep
) -> Response:
    source = text(form, "source")
    try:
        with platform.db.transaction() as session:
            access = workspaces.authorize(session, actor, ws, Action.PIPELINE_WRITE)
            pipeline = pipelines.get(session, access, code)
            version = pipelines.get_version(session, pipeline, None)
            if not source:
                raise Invalid(
                    "source: choose the pipeline whose success starts this one",
                    details={"field": "source"},
                )
            try:
                pipelines.get(session, access, source)
            except NotFound as exc:
                raise Invalid(f"source: {exc.message}", details={"field": "source"}) from None
            triggers.set_trigger(
                session,
                access,
                platform.box,
                pipeline,
                source=source,
                parameters=submitted_values(runs.specs_of(version), form),
            )
    except Invalid as exc:
        return _page(request, platform, actor, ws, code, posted=Posted("trigger", form, exc))
    return see_other(automation_url(ws, code), f"This pipeline now runs after {source} succeeds.")


@router.post(BASE + "/triggers/{source}/remove")
def trigger_remove(
    platform: PlatformDep, actor: PageActor, ws: str, code: str, source: str
) -> Response:
    with platform.db.transaction() as session:
        access = workspaces.authorize(session, actor, ws, Action.PIPELINE_WRITE)
        triggers.remove(session, access, pipelines.get(session, access, code), source)
    return see_other(automation_url(ws, code), "Trigger removed.")


# ----- Dataset triggers -----


@router.post(BASE + "/dataset-triggers")
def dataset_trigger_set(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str, form: FormDep
) -> Response:
    dataset = text(form, "dataset")
    try:
        with platform.db.transaction() as session:
            access = workspaces.authorize(session, actor, ws, Action.PIPELINE_WRITE)
            pipeline = pipelines.get(session, access, code)
            version = pipelines.get_version(session, pipeline, None)
            if not dataset:
                raise Invalid(
                    "dataset: choose the dataset whose new versions start this pipeline",
                    details={"field": "dataset"},
                )
            try:
                dataset_triggers.set_trigger(
                    session,
                    access,
                    platform.box,
                    pipeline,
                    dataset=dataset,
                    parameters=submitted_values(runs.specs_of(version), form),
                )
            except NotFound as exc:
                raise Invalid(f"dataset: {exc.message}", details={"field": "dataset"}) from None
    except Invalid as exc:
        return _page(
            request, platform, actor, ws, code, posted=Posted("dataset_trigger", form, exc)
        )
    return see_other(
        automation_url(ws, code), f"This pipeline now runs when {dataset} gets a new version."
    )


@router.post(BASE + "/dataset-triggers/{dataset}/remove")
def dataset_trigger_remove(
    platform: PlatformDep, actor: PageActor, ws: str, code: str, dataset: str
) -> Response:
    with platform.db.transaction() as session:
        access = workspaces.authorize(session, actor, ws, Action.PIPELINE_WRITE)
        dataset_triggers.remove(session, access, pipelines.get(session, access, code), dataset)
    return see_other(automation_url(ws, code), "Dataset trigger removed.")


# ----- Email recipients -----


@router.post(BASE + "/recipients")
def recipient_set(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str, form: FormDep
) -> Response:
    try:
        with platform.db.transaction() as session:
            access = workspaces.authorize(session, actor, ws, Action.PIPELINE_WRITE)
            pipeline = pipelines.get(session, access, code)
            if not text(form, "email").strip():
                raise Invalid("email: choose a member", details={"field": "email"})
            recipient = recipients.set_recipient(
                session,
                access,
                pipeline,
                email=text(form, "email"),
                notify_on=text(form, "notify_on") or "failure",
            )
            email = recipient.user.email
    except Invalid as exc:
        return _page(request, platform, actor, ws, code, posted=Posted("recipient", form, exc))
    return see_other(automation_url(ws, code), f"{email} will be emailed about runs.")


@router.post(BASE + "/recipients/remove")
def recipient_remove(
    platform: PlatformDep, actor: PageActor, ws: str, code: str, form: FormDep
) -> Response:
    email = text(form, "email")
    with platform.db.transaction() as session:
        access = workspaces.authorize(session, actor, ws, Action.PIPELINE_WRITE)
        recipients.remove(session, access, pipelines.get(session, access, code), email)
    return see_other(automation_url(ws, code), f"{email} will no longer be emailed.")


# ----- The page -----


def _page(
    request: Request,
    platform: Platform,
    actor: Actor,
    ws: str,
    code: str,
    *,
    posted: Posted | None = None,
    webhook_url: str = "",
) -> Response:
    """The automation page; after a failed post, its form again with the error in place."""
    with platform.db.session(write=False) as session:
        access = workspaces.authorize(session, actor, ws, Action.PIPELINE_READ)
        pipeline = pipelines.get(session, access, code)
        version = pipelines.latest_version(session, pipeline)

        def fields_for(name: str) -> list[FormField]:
            if version is None:
                return []
            sent = posted.form if posted and posted.name == name else None
            return parameter_fields(session, access, version, sent)

        forms = {
            "schedule": fields_for("schedule"),
            "trigger": fields_for("trigger"),
            "dataset_trigger": fields_for("dataset_trigger"),
        }
        errors: dict[str, str] = {}
        status = 200
        if posted is not None:
            errors = _errors(posted, forms.get(posted.name, []))
            status = problem(posted.exc)[1]

        others, _ = pipelines.list_for(session, access, PageRequest(page_size=MAX_PAGE_SIZE))
        names = {row.code: row.name for row in others}
        people, _ = members.list_members(
            session, access.workspace, PageRequest(page_size=MAX_PAGE_SIZE)
        )
        context = workspace_context(
            access,
            "pipelines",
            pipeline=pipeline,
            latest=version,
            can_edit=access.allows(Action.PIPELINE_WRITE) and not access.workspace.archived,
            schedules=[
                (row, _shown(version, row.parameters))
                for row in schedules.list_for(session, pipeline)
            ],
            webhook_on=pipeline.webhook_token_hash is not None,
            webhook_url=webhook_url,
            example_body=_example_body(version),
            triggers=[
                (source, names.get(source, source), _shown(version, row.parameters))
                for row, source in triggers.list_for(session, pipeline)
            ],
            sources=[(row.code, row.name) for row in others if row.id != pipeline.id],
            dataset_triggers=[
                (ref, _shown(version, row.parameters))
                for row, ref in dataset_triggers.list_for(session, access, pipeline)
            ],
            dataset_refs=[
                (datasets.ref_of(access, row), row.name)
                for row in datasets.list_for(session, access, PageRequest(page_size=MAX_PAGE_SIZE))[
                    0
                ]
            ],
            recipients=[
                (row.user.email, row.notify_on) for row in recipients.list_for(session, pipeline)
            ],
            member_emails=[row.user.email for row in people],
            smtp=bool(platform.settings.smtp_url),
            zones=workspaces.time_zones(),
            schedule_fields=forms["schedule"],
            trigger_fields=forms["trigger"],
            dataset_trigger_fields=forms["dataset_trigger"],
            values=_values(posted, access.workspace.time_zone),
            errors=errors,
        )
    return render(request, "pipeline_automation.html", context, status=status)


def _shown(version: PipelineVersion | None, values: Mapping[str, Any]) -> dict[str, Any]:
    """Saved parameter values as people may see them (secrets masked)."""
    if version is None:
        return {key: "********" for key in values}
    return runs.shown_parameters(version, values)


def _values(posted: Posted | None, time_zone: str) -> dict[str, str]:
    """What the forms' own (non-parameter) fields show: defaults, or what was sent."""
    values = {
        "cron": "",
        "time_zone": time_zone,
        "overlap": "skip",
        "source": "",
        "dataset": "",
        "email": "",
        "notify_on": "failure",
    }
    if posted is not None:
        for name in FORM_FIELDS[posted.name]:
            values[name] = text(posted.form, name) or values[name]
    return values


def _errors(posted: Posted, fields: Sequence[FormField]) -> dict[str, str]:
    """Errors by place: ``form.field`` next to a field, or ``form`` above the form."""
    if mark_parameter_error(fields, posted.exc):
        return {}
    details = posted.exc.details if isinstance(posted.exc.details, Mapping) else {}
    field = details.get("field")
    if field in FORM_FIELDS[posted.name]:
        return {f"{posted.name}.{field}": posted.exc.message}
    return {posted.name: posted.exc.message}


def _example_body(version: PipelineVersion | None) -> str:
    """A JSON body for the curl example: the first parameter with a value that fits it."""
    specs = [s for s in runs.specs_of(version) if s.type != "secret"] if version else []
    if not specs:
        return "{}"
    spec = specs[0]
    value: Any
    if spec.default is not None and spec.default != []:
        value = spec.default
    else:
        if spec.choices:
            sample = spec.choices[0]
        elif spec.type in CONNECTION_TYPES:
            sample = "connection-slug"
        else:
            sample = SAMPLES.get(spec.type, "value")
        value = [sample] if spec.multiple else sample
    body = json.dumps({spec.code: value}, default=str)
    # The body goes between single quotes in a shell command.
    return "{}" if "'" in body else body
