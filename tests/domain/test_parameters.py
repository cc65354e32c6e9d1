from __future__ import annotations

from typing import Any

import pytest

from joliba.domain.errors import Invalid
from joliba.domain.parameters import (
    CONNECTION_TYPES,
    PARAMETER_TYPES,
    ParameterSpec,
    parse_assignments,
    parse_text,
    specs_from_json,
    validate_values,
)


def spec(code: str = "p", type: str = "str", **fields: Any) -> ParameterSpec:
    return ParameterSpec.from_json({"code": code, "type": type, **fields})


def refused(specs: list[ParameterSpec], values: dict[str, Any], code: str, reason: str) -> None:
    with pytest.raises(Invalid) as caught:
        validate_values(specs, values)
    assert caught.value.message.startswith(f"parameter '{code}': ")
    assert reason in caught.value.message
    assert caught.value.details == {"parameter": code}


def test_types() -> None:
    assert PARAMETER_TYPES[:4] == ("str", "int", "float", "bool")
    assert sorted(CONNECTION_TYPES) == ["custom", "dhis2", "postgresql", "s3"]
    assert set(PARAMETER_TYPES) >= CONNECTION_TYPES


# --- specs -------------------------------------------------------------------------------


def test_spec_round_trip_and_defaults() -> None:
    s = spec("years", "int", name=" Years ", help="h", multiple=True, default=[2024, 2025.0])
    assert s == ParameterSpec(
        code="years", type="int", name="Years", help="h", default=(2024, 2025), multiple=True
    )
    assert s.to_json() == {
        "code": "years",
        "type": "int",
        "name": "Years",
        "help": "h",
        "default": [2024, 2025],
        "choices": None,
        "multiple": True,
        "required": True,
    }
    assert ParameterSpec.from_json(s.to_json()) == s
    bare = spec("mode")
    assert (bare.name, bare.help, bare.default, bare.required, bare.multiple) == (
        "mode",
        "",
        None,
        True,
        False,
    )
    assert spec("f", "float", choices=[1, 2.5], default=1).choices == (1.0, 2.5)
    assert spec("m", "int", multiple=True, default=[]).default is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"code": "1x", "type": "str"}, "code: a Python identifier"),
        ({"code": "a-b", "type": "str"}, "code: a Python identifier"),
        ({"code": "x" * 65, "type": "str"}, "code: a Python identifier"),
        ({"code": "lambda", "type": "str"}, "code: a Python identifier"),
        ({"code": "p", "type": "date"}, "type: unknown type 'date'"),
        ({"code": "p", "type": "str", "name": 3}, "name: 1 to 200 characters"),
        ({"code": "p", "type": "str", "name": "  "}, "name: 1 to 200 characters"),
        ({"code": "p", "type": "str", "help": 1}, "help: must be text"),
        ({"code": "p", "type": "str", "multiple": "yes"}, "multiple: must be true or false"),
        ({"code": "p", "type": "str", "required": 1}, "required: must be true or false"),
        ({"code": "p", "type": "str", "colour": "x"}, "unknown fields: colour"),
        ({"code": "p", "type": "str", "widget": "x"}, "widget: unknown widget 'x' (known: dhis2."),
        (
            {"code": "p", "type": "int", "widget": "dhis2.org_units", "connection": "s"},
            "widget: dhis2.org_units gives DHIS2 ids, so the type must be str, not int",
        ),
        ({"code": "p", "type": "str", "widget": "dhis2.datasets"}, "connection: dhis2.datasets"),
        (
            {"code": "p", "type": "str", "widget": "dhis2.datasets", "connection": "a-b"},
            "needs connection= the code of the DHIS2Connection parameter",
        ),
        ({"code": "p", "type": "str", "connection": "s"}, "connection: only a parameter with"),
        (
            {
                "code": "p",
                "type": "str",
                "widget": "dhis2.indicators",
                "connection": "s",
                "choices": ["a"],
            },
            "choices: not allowed with a picker widget",
        ),
        ({"code": "p", "type": "str", "choices": "ab"}, "choices: must be a non-empty list"),
        ({"code": "p", "type": "int", "choices": [1, "2"]}, "choices: expects an integer"),
        ({"code": "p", "type": "int", "choices": [1, 1]}, "choices: 1 is listed twice"),
        ({"code": "p", "type": "bool", "choices": [True]}, "choices: not allowed for bool"),
        ({"code": "p", "type": "secret", "choices": ["a"]}, "choices: not allowed for secret"),
        ({"code": "p", "type": "s3", "choices": ["a"]}, "choices: not allowed for s3"),
        ({"code": "p", "type": "secret", "default": "pw"}, "may not have a default"),
        ({"code": "p", "type": "int", "default": "1"}, "default: expects an integer"),
        ({"code": "p", "type": "int", "default": [1]}, "default: expects a single value"),
        ({"code": "p", "type": "int", "multiple": True, "default": 1}, "default: must be a list"),
        ({"code": "p", "type": "str", "choices": ["a"], "default": "b"}, "default: 'b' is not"),
        (
            {"code": "p", "type": "str", "choices": ["a"], "multiple": True, "default": ["a", "b"]},
            "default: 'b' is not one of the choices",
        ),
        ({"code": "p", "type": "file", "default": "/etc/passwd"}, "default: absolute paths"),
        ({"code": "p", "type": "dataset", "default": "Bad Slug"}, "default: expects a dataset"),
    ],
)
def test_bad_specs_name_the_parameter_and_field(data: dict[str, Any], reason: str) -> None:
    with pytest.raises(Invalid) as caught:
        ParameterSpec.from_json(data)
    assert caught.value.message.startswith(f"parameter '{data['code']}': ")
    assert reason in caught.value.message


def test_specs_from_json() -> None:
    specs = specs_from_json([{"code": "a", "type": "int"}, {"code": "b", "type": "bool"}])
    assert [s.code for s in specs] == ["a", "b"]
    assert specs_from_json([]) == []
    with pytest.raises(Invalid, match="parameter 'a': declared twice"):
        specs_from_json([{"code": "a", "type": "int"}, {"code": "a", "type": "str"}])
    with pytest.raises(Invalid, match="parameters: must be a list"):
        specs_from_json({"code": "a"})
    with pytest.raises(Invalid, match="a spec must be an object"):
        specs_from_json(["a"])


def test_picker_widgets_travel_in_the_spec() -> None:
    picker = spec(
        "elements",
        multiple=True,
        widget="dhis2.data_elements",
        connection="source",
        default=["xNS8eoefOlv"],
    )
    assert (picker.widget, picker.connection, picker.dhis2_collection) == (
        "dhis2.data_elements",
        "source",
        "data_elements",
    )
    assert picker.to_json()["widget"] == "dhis2.data_elements"
    assert picker.to_json()["connection"] == "source"
    assert ParameterSpec.from_json(picker.to_json()) == picker
    assert "widget" not in spec("plain").to_json()  # older specs keep their shape
    assert spec("plain").dhis2_collection is None


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (None, "connection: no parameter 'source' (this pipeline has: units)"),
        (
            {"code": "source", "type": "postgresql"},
            "connection: parameter 'source' is a postgresql parameter, not a DHIS2Connection",
        ),
        (
            {"code": "source", "type": "str"},
            "connection: parameter 'source' is a str parameter, not a DHIS2Connection",
        ),
        (
            {"code": "source", "type": "dhis2", "multiple": True},
            "connection: parameter 'source' takes several connections",
        ),
    ],
)
def test_a_picker_must_name_a_dhis2_connection_parameter(
    source: dict[str, Any] | None, reason: str
) -> None:
    units = {"code": "units", "type": "str", "widget": "dhis2.org_units", "connection": "source"}
    with pytest.raises(Invalid) as caught:
        specs_from_json([units] + ([source] if source else []))
    assert caught.value.message.startswith(f"parameter 'units': {reason}")
    assert caught.value.details == {"parameter": "units", "field": "connection"}
    good = specs_from_json([units, {"code": "source", "type": "dhis2"}])
    assert good[0].connection == "source"


# --- values ------------------------------------------------------------------------------


def test_values_are_completed_in_spec_order() -> None:
    specs = [
        spec("years", "int", multiple=True, default=[2024]),
        spec("mode", choices=["fast", "full"], default="fast"),
        spec("label", required=False),
        spec("tags", multiple=True, required=False),
        spec("ratio", "float", default=1),
        spec("source", "dhis2"),
    ]
    assert validate_values(specs, {"source": "sl-dhis2"}) == {
        "years": [2024],
        "mode": "fast",
        "label": None,
        "tags": [],
        "ratio": 1.0,
        "source": "sl-dhis2",
    }
    values = validate_values(specs, {"years": 2023, "mode": None, "tags": [], "source": "x"})
    assert values["years"] == [2023] and values["mode"] == "fast" and values["tags"] == []
    assert list(values) == ["years", "mode", "label", "tags", "ratio", "source"]


@pytest.mark.parametrize(
    ("kind", "given", "expected"),
    [
        ("str", "text", "text"),
        ("str", "", ""),
        ("int", 3, 3),
        ("int", -4.0, -4),
        ("float", 2, 2.0),
        ("float", 0.25, 0.25),
        ("bool", False, False),
        ("secret", "pw", "pw"),
        ("file", "outputs/a.csv/", "outputs/a.csv"),
        ("dataset", "malaria-monthly", "malaria-monthly"),
        ("dataset", "hmis.malaria-monthly", "hmis.malaria-monthly"),
        ("dhis2", "sl-dhis2", "sl-dhis2"),
        ("postgresql", "dw", "dw"),
        ("s3", "lake", "lake"),
        ("custom", "api", "api"),
    ],
)
def test_accepted_values(kind: str, given: Any, expected: Any) -> None:
    result = validate_values([spec("v", kind)], {"v": given})["v"]
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("kind", "given", "reason"),
    [
        ("int", True, "expects an integer, got True"),
        ("int", 1.5, "expects an integer, got 1.5"),
        ("int", "1", "expects an integer, got '1'"),
        ("float", "1.5", "expects a number"),
        ("float", False, "expects a number"),
        ("float", float("nan"), "expects a finite number"),
        ("bool", 1, "expects true or false, got 1"),
        ("bool", "true", "expects true or false"),
        ("str", 5, "expects text, got 5"),
        ("secret", 12345, "expects text"),
        ("file", "../up", "'..' segments are not allowed"),
        ("file", "/abs", "absolute paths are not allowed"),
        ("file", 3, "expects a workspace file path"),
        ("dataset", "Not_A_Slug", "expects a dataset slug"),
        ("dataset", "hmis.Bad Slug", "expects a dataset slug"),
        ("dhis2", "-bad", "expects a dhis2 connection slug"),
        ("custom", 7, "expects a slug"),
        ("str", ["a"], "expects a single value, not a list"),
    ],
)
def test_refused_values_name_the_parameter(kind: str, given: Any, reason: str) -> None:
    refused([spec("v", kind)], {"v": given}, "v", reason)


def test_secret_values_are_never_echoed() -> None:
    with pytest.raises(Invalid) as caught:
        validate_values([spec("pw", "secret")], {"pw": 987654})
    assert "987654" not in caught.value.message


def test_other_refusals() -> None:
    specs = [spec("a", "int"), spec("b", choices=["x", "y"], required=False)]
    refused(specs, {"a": 1, "zzz": 2}, "zzz", "unknown parameter (this pipeline has: a, b)")
    refused(specs, {}, "a", "a value is required")
    refused(specs, {"a": None}, "a", "a value is required")
    refused(specs, {"a": 1, "b": "z"}, "b", "'z' is not one of the choices ('x', 'y')")
    many = [spec("m", "int", multiple=True, choices=[1, 2])]
    refused(many, {"m": [1, 3]}, "m", "3 is not one of the choices")
    refused(many, {"m": [1, "2"]}, "m", "expects an integer")
    refused(many, {"m": []}, "m", "a value is required")
    with pytest.raises(Invalid, match="parameters: must be an object"):
        validate_values(specs, [("a", 1)])  # type: ignore[arg-type]


# --- typed text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("str", " spaced ", " spaced "),
        ("secret", "p w", "p w"),
        ("int", " 42 ", 42),
        ("int", "-3", -3),
        ("float", "2.5", 2.5),
        ("float", "3", 3.0),
        ("bool", "true", True),
        ("bool", "YES", True),
        ("bool", "1", True),
        ("bool", "False", False),
        ("bool", "no", False),
        ("bool", "0", False),
        ("file", " data/x.csv ", "data/x.csv"),
        ("dhis2", "sl-dhis2", "sl-dhis2"),
        ("int", "", None),
        ("bool", "  ", None),
    ],
)
def test_parse_text(kind: str, text: str, expected: Any) -> None:
    assert parse_text(spec("v", kind), text) == expected


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("int", "[2023, 2024]", [2023, 2024]),
        ("int", "2023,2024", [2023, 2024]),
        ("int", " 2023 , 2024 ,", [2023, 2024]),
        ("int", '["1", 2]', [1, 2]),
        ("str", '["a,b", "c"]', ["a,b", "c"]),
        ("str", "a,b", ["a", "b"]),
        ("bool", "yes,no", [True, False]),
        ("dataset", "one,two", ["one", "two"]),
        ("int", "", []),
    ],
)
def test_parse_text_multiple(kind: str, text: str, expected: Any) -> None:
    parsed = parse_text(spec("v", kind, multiple=True), text)
    assert parsed == expected
    if parsed:
        assert validate_values([spec("v", kind, multiple=True)], {"v": parsed})["v"] == expected


@pytest.mark.parametrize(
    ("kind", "multiple", "text", "reason"),
    [
        ("int", False, "ten", "'ten' is not an integer"),
        ("int", False, "1.5", "'1.5' is not an integer"),
        ("float", False, "x", "'x' is not a number"),
        ("bool", False, "maybe", "'maybe' is not true/false/yes/no/1/0"),
        ("int", True, "[1, 2", "not a valid JSON list"),
        ("int", True, "1,x", "'x' is not an integer"),
    ],
)
def test_parse_text_refusals(kind: str, multiple: bool, text: str, reason: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_text(spec("years", kind, multiple=multiple), text)
    assert caught.value.message == f"parameter 'years': {reason}"
    assert caught.value.details == {"parameter": "years"}


def test_repeated_assignments_add_up_for_multiple_parameters() -> None:
    specs = [
        spec("districts", "str", multiple=True),
        spec("years", "int", multiple=True),
        spec("country", "str"),
        spec("dry_run", "bool", required=False),
    ]
    items = [
        "districts=Bo",
        "years=2023,2024",
        "districts=Kono",
        "country=Sierra Leone",
        "years=2025",
        "districts=Port Loko",
    ]
    parsed = parse_assignments(specs, items)
    assert parsed == {
        "districts": ["Bo", "Kono", "Port Loko"],
        "years": [2023, 2024, 2025],
        "country": "Sierra Leone",
    }
    assert validate_values(specs, parsed)["districts"] == ["Bo", "Kono", "Port Loko"]
    # A JSON list adds up with the others too.
    assert parse_assignments(specs, ['districts=["Bo", "Kono"]', "districts=Kenema"]) == {
        "districts": ["Bo", "Kono", "Kenema"]
    }


@pytest.mark.parametrize(
    ("items", "message", "details"),
    [
        (
            ["country=Mali", "country=Niger"],
            "--param country: given more than once, but parameter 'country' takes one value "
            "(declare it multiple=True to take a list)",
            {"parameter": "country"},
        ),
        (
            ["nope=1"],
            "--param nope: no such parameter (parameters: districts, country)",
            {"parameter": "nope"},
        ),
        (["country"], "--param country: write it as code=value", {"field": "--param"}),
        (["=Mali"], "--param =Mali: write it as code=value", {"field": "--param"}),
    ],
)
def test_assignment_refusals_name_the_parameter(
    items: list[str], message: str, details: dict[str, str]
) -> None:
    specs = [spec("districts", "str", multiple=True), spec("country", "str")]
    with pytest.raises(Invalid) as caught:
        parse_assignments(specs, items)
    assert caught.value.message == message
    assert caught.value.details == details
