"""The shapes that cross a process boundary (joliba.domain.wire) agree with the other side.

- Dataset answers and bodies: each TypedDict the client uses has the fields, required keys
  and basic types of the server's Pydantic model (its JSON schema).
- SDK events: the kinds the SDK emits are the kinds of ``wire.Event``, each with its fields,
  and those are exactly the kinds the runner reads.
- Connection types: each has its fields (which are secret) in ``domain.connections``, its
  pipeline parameter type, its SDK class holding those fields, and a repr that masks them.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, cast, get_args, get_origin, get_type_hints

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from joliba.api import datasets as datasets_api
from joliba.domain import runs as domain_runs
from joliba.domain import wire
from joliba.domain.connections import FIELDS, MASK, ConnectionType
from joliba.domain.parameters import CONNECTION_TYPES, PARAMETER_TYPES, ParameterSpec
from joliba.runner.run_output import Batch, take_event
from joliba.schemas import common
from joliba.schemas import connections as connection_schemas
from joliba.schemas import datasets as schemas
from joliba.sdk import events as sdk_events
from joliba.sdk import types as sdk_types

# -- datasets: wire TypedDicts against the server's Pydantic models --------------------------

#: Each shape the server answers with, and its model there.
ANSWERS: dict[Any, type[BaseModel]] = {
    wire.DatasetFileInfo: schemas.DatasetFile,
    wire.VersionInfo: schemas.DatasetVersion,
    wire.DatasetInfo: schemas.Dataset,
    wire.UploadStateInfo: schemas.UploadState,
    wire.Page[wire.DatasetInfo]: common.Page[schemas.Dataset],
    wire.Page[wire.VersionInfo]: common.Page[schemas.DatasetVersion],
}
#: Each body the client sends, and the model the server reads it with.
BODIES: dict[Any, type[BaseModel]] = {
    wire.DatasetCreateBody: schemas.DatasetCreate,
    wire.VersionCreateBody: schemas.VersionCreate,
}
#: A $ref in a JSON schema names a model: the TypedDict that stands for it.
MODEL_NAMES = {model.__name__: shape for shape, model in ANSWERS.items()}
_JSON_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


def _from_json_schema(prop: dict[str, Any]) -> str:
    """A JSON schema property as a type name: ``str``, ``list[int]``, ``None | VersionInfo``.

    Formats (uuid, date-time) travel as strings; a ``$ref`` is the TypedDict standing for it.
    """
    if "anyOf" in prop:
        return " | ".join(sorted(_from_json_schema(p) for p in prop["anyOf"]))
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[1]
        assert name in MODEL_NAMES, f"{name}: a nested model with no wire shape"
        return typing.cast(str, MODEL_NAMES[name].__name__)
    kind = prop["type"]
    if kind == "null":
        return "None"
    if kind == "array":
        return f"list[{_from_json_schema(prop['items'])}]"
    if kind == "object":
        values = prop.get("additionalProperties", {})
        return f"dict[str, {_from_json_schema(values) if values else 'Any'}]"
    return _JSON_TYPES[kind]


def _from_python(hint: Any, params: dict[Any, Any]) -> str:
    """A TypedDict field's type as a type name, in the same spelling."""
    if isinstance(hint, TypeVar):
        hint = params[hint]
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(sorted(_from_python(a, params) for a in get_args(hint)))
    if origin is Literal:
        return " | ".join(sorted({type(a).__name__ for a in get_args(hint)}))
    if origin is list:
        return f"list[{_from_python(get_args(hint)[0], params)}]"
    if origin is dict:
        key, value = get_args(hint)
        return f"dict[{_from_python(key, params)}, {_from_python(value, params)}]"
    if hint is type(None):
        return "None"
    if typing.is_typeddict(hint) or typing.is_typeddict(origin):
        return typing.cast(str, (origin or hint).__name__)
    if hint is Any:
        return "Any"
    assert hint in (str, int, float, bool), f"{hint!r}: not a JSON type"
    return typing.cast(str, hint.__name__)


def _typed_dict(shape: Any) -> tuple[Any, dict[str, str]]:
    """The TypedDict class of ``shape`` (``Page[DatasetInfo]`` is ``Page``) and its fields."""
    origin = get_origin(shape) or shape
    params = dict(zip(getattr(origin, "__parameters__", ()), get_args(shape), strict=True))
    hints = get_type_hints(origin)
    return origin, {name: _from_python(hint, params) for name, hint in hints.items()}


def _model_fields(model: type[BaseModel], mode: Literal["validation", "serialization"]) -> Any:
    schema = model.model_json_schema(mode=mode)
    fields = {name: _from_json_schema(prop) for name, prop in schema["properties"].items()}
    return fields, set(schema.get("required", ()))


def _name(shape: Any) -> str:
    origin = get_origin(shape)
    if origin is None:
        return typing.cast(str, shape.__name__)
    return f"{origin.__name__}[{', '.join(a.__name__ for a in get_args(shape))}]"


@pytest.mark.parametrize("shape", ANSWERS, ids=_name)
def test_each_answer_has_the_fields_and_types_of_the_server_model(shape: Any) -> None:
    cls, fields = _typed_dict(shape)
    expected, _ = _model_fields(ANSWERS[shape], "serialization")
    assert fields == expected
    # The server writes every field of an answer (a field it may leave empty is null, so
    # `| None` above), so the client may read every key.
    assert cls.__required_keys__ == set(expected) and not cls.__optional_keys__


def test_the_dataset_routes_write_every_field_of_their_answers() -> None:
    answers = set(ANSWERS.values())
    routes = [r for r in datasets_api.router.routes if isinstance(r, APIRoute)]
    answering = [r for r in routes if r.response_model in answers]
    assert {r.response_model for r in answering} == answers
    for route in answering:
        assert not (
            route.response_model_exclude_unset
            or route.response_model_exclude_defaults
            or route.response_model_exclude_none
            or route.response_model_exclude
            or route.response_model_include
        ), route.path


@pytest.mark.parametrize("shape", BODIES, ids=_name)
def test_each_body_has_the_fields_required_keys_and_types_the_server_reads(shape: Any) -> None:
    cls, fields = _typed_dict(shape)
    expected, required = _model_fields(BODIES[shape], "validation")
    assert fields == expected
    assert cls.__required_keys__ == required
    assert cls.__optional_keys__ == set(expected) - required


def test_a_changed_model_would_be_caught() -> None:
    """The comparison sees a renamed field, a changed type and a field that became null."""

    class Renamed(BaseModel):
        received_bytes: int

    class Retyped(BaseModel):
        received: str

    class Nullable(BaseModel):
        received: int | None

    _, fields = _typed_dict(wire.UploadStateInfo)
    for model in (Renamed, Retyped, Nullable):
        assert fields != _model_fields(model, "serialization")[0]


# -- SDK events: what the SDK writes is what the runner reads -------------------------------

AT = "2024-05-01T10:00:00.123456+00:00"
#: One call of each EventWriter method, by the kind of event it emits.
EMITTERS: dict[str, Any] = {
    wire.LOG: lambda w: w.log("warning", "disk almost full"),
    wire.PROGRESS: lambda w: w.progress(40, "2 of 5 tasks done"),
    wire.OUTPUT: lambda w: w.output("dataset", "cases@3", "cases"),
    wire.TASK: lambda w: w.task("extract", "retrying", 2, 7),
}


def _tag(shape: Any) -> str:
    (kind,) = get_args(get_type_hints(shape)["event"])
    return typing.cast(str, kind)


def _emitted() -> list[dict[str, Any]]:
    written: list[dict[str, Any]] = []
    writer = sdk_events.EventWriter(types.SimpleNamespace(terminal=False, write=written.extend))
    for emit in EMITTERS.values():
        emit(writer)
    writer.flush()
    # As the runner gets them: one JSON line each (FdSink).
    return [json.loads(json.dumps(e, ensure_ascii=False, default=str)) for e in written]


def _conforms(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in get_args(hint))
    if origin is Literal:
        return value in get_args(hint)
    if hint is type(None):
        return value is None
    return isinstance(value, hint) and not (hint is int and isinstance(value, bool))


def test_the_event_kinds_are_the_shapes_of_the_event_union() -> None:
    shapes = get_args(wire.Event)
    assert {_tag(shape): shape for shape in shapes} == wire.EVENT_SHAPES
    assert set(wire.EVENT_SHAPES) == wire.EVENT_KINDS == set(EMITTERS)
    for shape in shapes:
        assert "at" in shape.__required_keys__ and not shape.__optional_keys__


def test_the_sdk_emits_every_kind_each_with_exactly_its_fields() -> None:
    emitted = _emitted()
    assert [e[wire.EVENT] for e in emitted] == list(EMITTERS)
    for event in emitted:
        shape = wire.EVENT_SHAPES[event[wire.EVENT]]
        hints = get_type_hints(shape)
        assert set(event) == set(hints), event
        for key, value in event.items():
            assert _conforms(value, hints[key]), (event, key)
        datetime.fromisoformat(event["at"])


def test_the_runner_reads_every_kind_the_sdk_emits() -> None:
    at = datetime.now(UTC)
    read: dict[str, Batch] = {}
    for data in _emitted():
        event = wire.as_event(data)
        assert event is not None
        read[data["event"]] = batch = Batch()
        take_event(batch, event, at, lambda b, line: b.lines.append(line))
        assert batch, f"the runner ignored a {data['event']} event"
    assert set(read) == wire.EVENT_KINDS
    log = read[wire.LOG].lines[0]
    assert (log["level"], log["message"], log["at"]) == ("warning", "disk almost full", at)
    assert read[wire.PROGRESS].progress == (40, "2 of 5 tasks done")
    assert read[wire.OUTPUT].outputs == [{"kind": "dataset", "uri": "cases@3", "name": "cases"}]
    assert read[wire.TASK].lines[0]["message"] == "task extract: retrying (attempt 2)"


def test_the_runner_reads_no_kind_the_sdk_does_not_emit() -> None:
    assert wire.as_event({"event": "telemetry", "at": AT}) is None  # dropped, not stored
    unknown = cast(Any, {"event": "telemetry", "at": AT})  # deliberately no wire.Event
    with pytest.raises(AssertionError):  # take_event's branches are exactly wire.Event's
        take_event(Batch(), unknown, datetime.now(UTC), print)


def test_the_terminal_shows_every_kind() -> None:
    sink = sdk_events.TerminalSink(level=0)
    for event in _emitted():
        assert sink._line(cast(wire.Event, event))  # each of the shapes checked above


def test_log_levels_and_output_kinds_agree_across_the_pipe() -> None:
    assert list(sdk_events.LEVELS) == list(wire.LOG_LEVELS) == list(domain_runs.LOG_LEVELS)
    assert set(wire.OUTPUT_KINDS) == {"file", "table", "dataset"}  # what runs.add_output keeps


# -- connection types: defined once, masked everywhere -------------------------------------


@pytest.mark.parametrize("kind", list(ConnectionType), ids=str)
def test_every_connection_type_is_a_parameter_type_with_an_sdk_class(
    kind: ConnectionType,
) -> None:
    assert kind.value in CONNECTION_TYPES and kind.value in PARAMETER_TYPES
    assert kind in FIELDS
    cls = sdk_types.CONNECTION_CLASSES[kind]
    assert sdk_types.spec_type_of(cls, "source") == kind.value
    spec = ParameterSpec.from_json({"code": "source", "type": kind.value, "name": "Source"})
    assert spec.type == kind.value
    described = connection_schemas.ConnectionCreate.model_fields["type"].description or ""
    assert kind.value in described


def test_no_other_connection_types() -> None:
    assert set(CONNECTION_TYPES) == {k.value for k in ConnectionType}
    assert set(sdk_types.CONNECTION_CLASSES) == set(ConnectionType)
    # Every parameter type has its Python type in the SDK; the connection types, their class.
    assert set(sdk_types.SPEC_TYPES.values()) == set(PARAMETER_TYPES)
    classes = sdk_types.CONNECTION_CLASSES.values()
    assert {sdk_types.SPEC_TYPES[cls] for cls in classes} == CONNECTION_TYPES
    assert vars(sdk_types)["MASK"] == MASK == wire.MASK  # not re-exported, but the SDK's


def _values(kind: ConnectionType) -> dict[str, str]:
    return {f.name: ("6543" if f.kind == "int" else f"value-of-{f.name}") for f in FIELDS[kind]}


@pytest.mark.parametrize("kind", [k for k in ConnectionType if FIELDS[k]], ids=str)
def test_each_sdk_connection_holds_the_fields_of_its_type(kind: ConnectionType) -> None:
    cls = sdk_types.CONNECTION_CLASSES[kind]
    held = [f.name for f in dataclasses.fields(cls) if f.name not in ("slug", "name")]
    assert held == [f.name for f in FIELDS[kind]]
    connection = sdk_types.connection_from_json(
        "src", {"type": kind.value, "fields": _values(kind)}
    )
    assert type(connection) is cls
    for name, value in _values(kind).items():
        assert str(getattr(connection, name)) == value


@pytest.mark.parametrize("kind", list(ConnectionType), ids=str)
def test_the_sdk_repr_masks_each_secret_field(kind: ConnectionType) -> None:
    if kind is ConnectionType.CUSTOM:  # the SDK is not told which custom fields are secret
        values = {"api_key": "value-of-api_key", "base_url": "value-of-base_url"}
        secret = set(values)
    else:
        values = _values(kind)
        secret = {f.name for f in FIELDS[kind] if f.secret}
        assert secret, f"{kind}: no secret field?"
    connection = sdk_types.connection_from_json("src", {"type": kind.value, "fields": values})
    shown = repr(connection) + str(connection) + repr([connection])
    for name, value in values.items():
        if name in secret:
            assert value not in shown, name
            assert f"{name}={MASK!r}" in shown or f"{name!r}: {MASK!r}" in shown, name
        else:
            assert value in shown, name
