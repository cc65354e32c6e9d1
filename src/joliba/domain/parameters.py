"""Pipeline parameter specs and values: the checks shared by the server and the SDK.

A spec is what ``@parameter`` declares and what ``python -m joliba.sdk.inspect`` prints at
push time; the server stores it and calls :func:`validate_values` before a run starts, and
the SDK calls the same function in local mode. Every error is :class:`Invalid` and names the
parameter. Stdlib only: the SDK imports this module in every run's process.
"""

from __future__ import annotations

import json
import keyword
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from joliba.domain.errors import Invalid
from joliba.domain.paths import clean_path
from joliba.domain.slugs import check_slug
from joliba.domain.wire import ConnectionType

#: A parameter of a connection type takes the slug of a workspace connection of that type.
CONNECTION_TYPES = frozenset(kind.value for kind in ConnectionType)
PARAMETER_TYPES = (
    "str",
    "int",
    "float",
    "bool",
    "secret",
    "file",
    "dataset",
    *(kind.value for kind in ConnectionType),
)
#: What the run form's DHIS2 pickers search: widget ``dhis2.<collection>``.
DHIS2_COLLECTIONS = (
    "data_elements",
    "datasets",
    "data_element_groups",
    "org_units",
    "org_unit_levels",
    "indicators",
)
WIDGETS = tuple(f"dhis2.{collection}" for collection in DHIS2_COLLECTIONS)

#: Types whose values are picked, not typed: a list of choices makes no sense for them.
_NO_CHOICES = frozenset({"bool", "secret"}) | CONNECTION_TYPES
_FIELDS = (
    "code",
    "type",
    "name",
    "help",
    "default",
    "choices",
    "multiple",
    "required",
    "widget",
    "connection",
)
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_MAX_CODE = 64
_MAX_NAME = 200


def _invalid(code: str, reason: str, **details: Any) -> Invalid:
    return Invalid(f"parameter '{code}': {reason}", details={"parameter": code, **details})


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter. Build it with :meth:`from_json` to have it checked."""

    code: str
    type: str
    name: str
    help: str = ""
    default: Any = None
    choices: tuple[Any, ...] | None = None
    multiple: bool = False
    required: bool = True
    #: A picker for the run form (one of :data:`WIDGETS`), searching the DHIS2 server of
    #: the DHIS2Connection parameter named by ``connection``.
    widget: str | None = None
    connection: str | None = None

    @property
    def dhis2_collection(self) -> str | None:
        """What a DHIS2 picker searches (``data_elements`` …), or None."""
        if self.widget is None or not self.widget.startswith("dhis2."):
            return None
        return self.widget.removeprefix("dhis2.")

    def to_json(self) -> dict[str, Any]:
        default = list(self.default) if isinstance(self.default, list | tuple) else self.default
        data: dict[str, Any] = {
            "code": self.code,
            "type": self.type,
            "name": self.name,
            "help": self.help,
            "default": default,
            "choices": None if self.choices is None else list(self.choices),
            "multiple": self.multiple,
            "required": self.required,
        }
        if self.widget is not None:  # left out otherwise: older specs read the same
            data["widget"] = self.widget
            data["connection"] = self.connection
        return data

    @classmethod
    def from_json(cls, data: Any) -> ParameterSpec:
        """Check every field of a spec object and return the spec (defaults normalised)."""
        if not isinstance(data, Mapping):
            raise Invalid("parameter: a spec must be an object", details={"parameter": None})
        code = data.get("code")
        if not isinstance(code, str) or not _is_code(code):
            shown = code if isinstance(code, str) else repr(code)
            raise Invalid(
                f"parameter '{shown}': code: a Python identifier of 1 to {_MAX_CODE} letters, "
                "digits and underscores, not starting with a digit and not a keyword",
                details={"parameter": code if isinstance(code, str) else None, "field": "code"},
            )
        unknown = sorted(str(k) for k in data if k not in _FIELDS)
        if unknown:
            raise _invalid(code, f"unknown fields: {', '.join(unknown)}", field=unknown[0])
        kind = data.get("type")
        if kind not in PARAMETER_TYPES:
            raise _invalid(
                code,
                f"type: unknown type {kind!r} (known: {', '.join(PARAMETER_TYPES)})",
                field="type",
            )
        name = data.get("name")
        if name is None:
            name = code
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > _MAX_NAME:
            raise _invalid(code, f"name: 1 to {_MAX_NAME} characters", field="name")
        help_text = data.get("help")
        if help_text is None:
            help_text = ""
        if not isinstance(help_text, str):
            raise _invalid(code, "help: must be text", field="help")
        flags = {}
        for flag, fallback in (("multiple", False), ("required", True)):
            value = data.get(flag, fallback)
            if not isinstance(value, bool):
                raise _invalid(code, f"{flag}: must be true or false", field=flag)
            flags[flag] = value
        choices = _spec_choices(code, kind, data.get("choices"))
        widget, connection = _spec_widget(code, kind, data.get("widget"), data.get("connection"))
        if widget is not None and choices is not None:
            raise _invalid(code, "choices: not allowed with a picker widget", field="choices")
        spec = cls(
            code=code,
            type=kind,
            name=name.strip(),
            help=help_text,
            choices=choices,
            multiple=flags["multiple"],
            required=flags["required"],
            widget=widget,
            connection=connection,
        )
        default = data.get("default")
        if isinstance(default, list | tuple) and not default and spec.multiple:
            default = None  # an empty default list means "no default"
        if default is None:
            return spec
        if kind == "secret":
            raise _invalid(code, "default: secret parameters may not have a default")
        if spec.multiple and not isinstance(default, list | tuple):
            raise _invalid(code, "default: must be a list (the parameter is multiple)")
        try:
            checked = _check(spec, default)
        except Invalid as exc:
            reason = exc.message.split(": ", 1)[1]
            raise _invalid(code, f"default: {reason}", field="default") from None
        if isinstance(checked, list):
            checked = tuple(checked)  # frozen spec: keep the default immutable
        return replace(spec, default=checked)


def _is_code(code: str) -> bool:
    return (
        0 < len(code) <= _MAX_CODE
        and code.isascii()
        and code.isidentifier()
        and not keyword.iskeyword(code)
    )


def _spec_widget(
    code: str, kind: str, widget: Any, connection: Any
) -> tuple[str | None, str | None]:
    if widget is None:
        if connection is not None:
            raise _invalid(
                code,
                "connection: only a parameter with a DHIS2 picker widget names one",
                field="connection",
            )
        return None, None
    if widget not in WIDGETS:
        shown = widget if isinstance(widget, str) else repr(widget)
        raise _invalid(
            code, f"widget: unknown widget '{shown}' (known: {', '.join(WIDGETS)})", field="widget"
        )
    if kind != "str":
        raise _invalid(
            code,
            f"widget: {widget} gives DHIS2 ids, so the type must be str, not {kind}",
            field="widget",
        )
    if not isinstance(connection, str) or not _is_code(connection):
        raise _invalid(
            code,
            f"connection: {widget} needs connection= the code of the DHIS2Connection "
            "parameter whose server it searches",
            field="connection",
        )
    return widget, connection


def check_references(specs: Sequence[ParameterSpec]) -> None:
    """Every picker's ``connection`` names a single-valued DHIS2Connection parameter."""
    by_code = {spec.code: spec for spec in specs}
    for spec in specs:
        if spec.connection is None:
            continue
        target = by_code.get(spec.connection)
        if target is None:
            listed = ", ".join(by_code) or "none"
            raise _invalid(
                spec.code,
                f"connection: no parameter '{spec.connection}' (this pipeline has: {listed})",
                field="connection",
            )
        if target.type != ConnectionType.DHIS2:
            raise _invalid(
                spec.code,
                f"connection: parameter '{target.code}' is a {target.type} parameter, not a "
                "DHIS2Connection",
                field="connection",
            )
        if target.multiple:
            raise _invalid(
                spec.code,
                f"connection: parameter '{target.code}' takes several connections; a picker "
                "searches one",
                field="connection",
            )


def _spec_choices(code: str, kind: str, raw: Any) -> tuple[Any, ...] | None:
    if raw is None:
        return None
    if kind in _NO_CHOICES:
        raise _invalid(code, f"choices: not allowed for {kind} parameters", field="choices")
    if not isinstance(raw, list | tuple) or not raw:
        raise _invalid(code, "choices: must be a non-empty list", field="choices")
    checked = []
    for item in raw:
        try:
            value = _scalar(code, kind, item)
        except Invalid as exc:
            reason = exc.message.split(": ", 1)[1]
            raise _invalid(code, f"choices: {reason}", field="choices") from None
        if value in checked:
            raise _invalid(code, f"choices: {value!r} is listed twice", field="choices")
        checked.append(value)
    return tuple(checked)


def specs_from_json(items: Any) -> list[ParameterSpec]:
    """Check a whole list of specs: each one valid, codes unique, pickers naming a
    DHIS2Connection parameter of the list."""
    if not isinstance(items, list):
        raise Invalid("parameters: must be a list of objects", details={"field": "parameters"})
    specs: list[ParameterSpec] = []
    seen: set[str] = set()
    for item in items:
        spec = ParameterSpec.from_json(item)
        if spec.code in seen:
            raise _invalid(spec.code, "declared twice")
        seen.add(spec.code)
        specs.append(spec)
    check_references(specs)
    return specs


def validate_values(specs: Sequence[ParameterSpec], values: Mapping[str, Any]) -> dict[str, Any]:
    """Return the complete values of a run, in spec order, or raise :class:`Invalid`.

    Missing or ``None`` values take the default; optional parameters without one get
    ``None`` (``[]`` when multiple). An empty list for a multiple parameter counts as missing.
    """
    if not isinstance(values, Mapping):
        raise Invalid("parameters: must be an object", details={"field": "parameters"})
    known = {spec.code for spec in specs}
    for code in values:
        if code not in known:
            listed = ", ".join(spec.code for spec in specs) or "none"
            raise _invalid(str(code), f"unknown parameter (this pipeline has: {listed})")
    result: dict[str, Any] = {}
    for spec in specs:
        value = values.get(spec.code)
        if value is None or (spec.multiple and isinstance(value, list | tuple) and not value):
            result[spec.code] = _missing(spec)
        else:
            result[spec.code] = _check(spec, value)
    return result


def _missing(spec: ParameterSpec) -> Any:
    if spec.default is not None:
        return list(spec.default) if spec.multiple else spec.default
    if spec.required:
        raise _invalid(spec.code, "a value is required")
    return [] if spec.multiple else None


def _check(spec: ParameterSpec, value: Any) -> Any:
    """One value (a list when multiple), normalised, checked against type and choices."""
    if spec.multiple:
        items = list(value) if isinstance(value, list | tuple) else [value]
        return [_choice(spec, _scalar(spec.code, spec.type, item)) for item in items]
    if isinstance(value, list | tuple):
        raise _invalid(spec.code, "expects a single value, not a list")
    return _choice(spec, _scalar(spec.code, spec.type, value))


def _choice(spec: ParameterSpec, value: Any) -> Any:
    if spec.choices is not None and value not in spec.choices:
        allowed = ", ".join(repr(c) for c in spec.choices)
        raise _invalid(spec.code, f"{value!r} is not one of the choices ({allowed})")
    return value


def _scalar(code: str, kind: str, value: Any) -> Any:
    """Check one value against a type; return it normalised (ints as floats for float)."""
    if kind == "int":
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _invalid(code, f"expects an integer, got {_shown(value)}")
        return value
    if kind == "float":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _invalid(code, f"expects a number, got {_shown(value)}")
        if not math.isfinite(value):
            raise _invalid(code, "expects a finite number")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise _invalid(code, f"expects true or false, got {_shown(value)}")
        return value
    if not isinstance(value, str):
        expected = {"str": "text", "secret": "text", "file": "a workspace file path"}
        what = expected.get(kind, "a slug")
        # Never echo what was given for a secret.
        got = "" if kind == "secret" else f", got {_shown(value)}"
        raise _invalid(code, f"expects {what}{got}")
    if kind == "file":
        try:
            return clean_path(value)
        except Invalid as exc:
            raise _invalid(code, exc.message.split(": ", 1)[1]) from None
    if kind == "dataset" or kind in CONNECTION_TYPES:
        try:
            if kind == "dataset" and "." in value:  # shared: source-workspace.slug
                source, _, slug = value.partition(".")
                return f"{check_slug(source)}.{check_slug(slug)}"
            return check_slug(value)
        except Invalid as exc:
            what = "dataset" if kind == "dataset" else f"{kind} connection"
            reason = exc.message.split(": ", 1)[1]
            raise _invalid(code, f"expects a {what} slug ({reason})") from None
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_text(spec: ParameterSpec, text: str) -> Any:
    """Turn typed text (``--param k=v``, a form field) into a value for :func:`validate_values`.

    Numbers are parsed, booleans read from true/false/yes/no/1/0, multiple values from a JSON
    list or comma-separated text. Empty text means "no value" (``None``, or ``[]`` when
    multiple) except for text parameters, where it is the empty string.
    """
    if not isinstance(text, str):
        raise _invalid(spec.code, "expects text to parse")
    if spec.multiple:
        stripped = text.strip()
        if not stripped:
            return []
        if stripped.startswith("["):
            try:
                items = json.loads(stripped)
            except ValueError:
                raise _invalid(spec.code, "not a valid JSON list") from None
            if not isinstance(items, list):
                raise _invalid(spec.code, "not a valid JSON list")
            return [_parse_one(spec, i) if isinstance(i, str) else i for i in items]
        return [_parse_one(spec, part) for part in stripped.split(",") if part.strip()]
    return _parse_one(spec, text)


def _parse_one(spec: ParameterSpec, text: str) -> Any:
    kind = spec.type
    if kind in ("str", "secret"):
        return text
    stripped = text.strip()
    if not stripped:
        return None
    if kind == "int":
        try:
            return int(stripped)
        except ValueError:
            raise _invalid(spec.code, f"{_shown(stripped)} is not an integer") from None
    if kind == "float":
        try:
            return float(stripped)
        except ValueError:
            raise _invalid(spec.code, f"{_shown(stripped)} is not a number") from None
    if kind == "bool":
        lowered = stripped.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise _invalid(spec.code, f"{_shown(stripped)} is not true/false/yes/no/1/0")
    return stripped


def parse_assignments(
    specs: Sequence[ParameterSpec], items: Sequence[str], *, option: str = "--param"
) -> dict[str, Any]:
    """``code=value`` texts (each ``--param``) as values for :func:`validate_values`.

    A parameter declared ``multiple`` may be given several times: its values add up, in the
    order given (``--param d=A --param d=B`` is ``["A", "B"]``, as is ``d=A,B``). A
    single-valued parameter given twice is an error, rather than one value silently winning.
    """
    by_code = {spec.code: spec for spec in specs}
    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        code = key.strip()
        if not sep or not code:
            raise Invalid(f"{option} {item}: write it as code=value", details={"field": option})
        spec = by_code.get(code)
        if spec is None:
            known = ", ".join(by_code) or "none"
            raise Invalid(
                f"{option} {code}: no such parameter (parameters: {known})",
                details={"parameter": code},
            )
        value = parse_text(spec, text)
        if not spec.multiple:
            if code in values:
                raise Invalid(
                    f"{option} {code}: given more than once, but parameter '{code}' takes one "
                    "value (declare it multiple=True to take a list)",
                    details={"parameter": code},
                )
            values[code] = value
            continue
        values.setdefault(code, []).extend(value)
    return values
