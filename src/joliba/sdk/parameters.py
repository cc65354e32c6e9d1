"""``@parameter``: declare a pipeline parameter, checked by the same rules as the server's."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from joliba.domain.errors import Invalid
from joliba.domain.parameters import CONNECTION_TYPES, ParameterSpec
from joliba.sdk.types import DHIS2Connection, File, Secret, connection_type, spec_type_of

if TYPE_CHECKING:
    from joliba.sdk.context import RunContext

F = TypeVar("F")

#: Where a plain function keeps its parameters until ``@pipeline`` collects them.
ATTRIBUTE = "__joliba_parameters__"


def parameter(
    code: str,
    *,
    type: Any,  # the public names, as in OpenHEXA's SDK
    name: str | None = None,
    help: str = "",
    default: Any = None,
    choices: Sequence[Any] | None = None,
    multiple: bool = False,
    required: bool = True,
    widget: str | None = None,
    connection: str | None = None,
) -> Callable[[F], F]:
    """Declare a parameter of the pipeline function; stacks with ``@pipeline`` in any order.

    ``widget="dhis2.data_elements"`` (or another DHIS2 picker) makes the run form search the
    server of the DHIS2Connection parameter named by ``connection``.

    The spec is checked now (an ``Invalid`` error naming the parameter), so a bad spec fails
    when ``pipeline.py`` is imported rather than when the pipeline runs.
    """
    spec_type = spec_type_of(type, code)
    spec = ParameterSpec.from_json(
        {
            "code": code,
            "type": spec_type,
            "name": name,
            "help": help,
            "default": list(default) if isinstance(default, list | tuple) else default,
            "choices": None if choices is None else list(choices),
            "multiple": multiple,
            "required": required,
            "widget": widget,
            "connection": connection,
        }
    )

    def decorate(target: F) -> F:
        from joliba.sdk.pipeline import Pipeline

        if isinstance(target, Pipeline):
            target.add_parameter(spec)
        elif callable(target):
            specs: list[ParameterSpec] = getattr(target, ATTRIBUTE, [])
            if any(s.code == spec.code for s in specs):
                raise ValueError(f"parameter '{spec.code}': declared twice")
            # Decorators apply bottom-up; prepending keeps the top-to-bottom order.
            setattr(target, ATTRIBUTE, [spec, *specs])
        else:
            raise TypeError(f"parameter '{spec.code}': @parameter decorates a function")
        return target

    return decorate


def bind_values(
    specs: Sequence[ParameterSpec], values: Mapping[str, Any], context: RunContext
) -> dict[str, Any]:
    """Turn validated values into what the function receives (connections and datasets as
    objects, a DHIS2 connection as a ready :class:`joliba.dhis2.client.DHIS2` client; datasets
    are looked up on the server, an ``Invalid`` naming the parameter when missing)."""
    bound: dict[str, Any] = {}
    for spec in specs:
        value = values.get(spec.code)
        if value is None:
            bound[spec.code] = None
        elif spec.multiple:
            bound[spec.code] = [_bind_one(spec, item, context) for item in value]
        else:
            bound[spec.code] = _bind_one(spec, value, context)
    return bound


def _bind_one(spec: ParameterSpec, value: Any, context: RunContext) -> Any:
    if spec.type == "secret":
        return Secret(value)
    if spec.type == "file":
        return File(value)
    if spec.type == "dataset":
        from joliba.sdk.datasets import bind_dataset  # stdlib only until it talks to a server

        return bind_dataset(spec.code, value, context)
    if spec.type not in CONNECTION_TYPES:
        return value
    where = f"workspace '{context.workspace_slug}'"
    if value not in context.connections:
        raise Invalid(
            f"parameter '{spec.code}': no connection '{value}' in {where}",
            details={"parameter": spec.code},
        )
    try:
        connection = context.connection(value)
    except ValueError as exc:
        raise Invalid(f"parameter '{spec.code}': {exc}", details={"parameter": spec.code}) from None
    if connection_type(connection) != spec.type:
        raise Invalid(
            f"parameter '{spec.code}': connection '{value}' is a {connection_type(connection)} "
            f"connection, not {spec.type}",
            details={"parameter": spec.code},
        )
    if isinstance(connection, DHIS2Connection):
        # Only now: joliba.dhis2 loads httpx and Polars, which `import joliba` must not.
        from joliba.sdk.dhis2 import client_for

        try:
            return client_for(connection)
        except ValueError as exc:
            raise Invalid(
                f"parameter '{spec.code}': {exc}", details={"parameter": spec.code}
            ) from None
    return connection
