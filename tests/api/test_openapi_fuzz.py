"""Fuzz the whole API from its OpenAPI document with schemathesis, against the live server.

Every operation gets generated requests (valid ones, and invalid queries and bodies) with a
superuser's token, inside a real workspace holding a pipeline, a published dataset and a file
(so that requests reach past the 404s), and again without any token. No answer may be a
server error (5xx), and every status an operation answers must be declared in the OpenAPI
document. Examples are few, so that the walk of some 90 operations stays short.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.result import Ok

from tests.conftest import World
from tests.pipeline_helpers import push

POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE

#: Generated requests per operation, by generation mode, for a signed-in caller.
EXAMPLES = {POSITIVE: 4, NEGATIVE: 2}

# Pipeline archives are raw bytes, like file uploads.
schemathesis.serializer.alias("application/zip", "application/octet-stream")


def _things(api: httpx.Client, ws: str) -> dict[str, str]:
    """Path values that exist, so that generated requests reach past the 404s: a pipeline
    with a version, a dataset with a published version holding a table, a file."""
    push(api, ws, "simple")
    assert api.post(f"/workspaces/{ws}/datasets", json={"name": "cases"}).status_code == 201
    base = f"/workspaces/{ws}/datasets/cases/versions/1"
    assert api.post(f"/workspaces/{ws}/datasets/cases/versions", json={}).status_code == 201
    assert api.put(f"{base}/files/cases.csv", content=b"district,cases\nBo,3\n").is_success
    assert api.post(f"{base}/publish").status_code == 200
    assert api.put(f"/workspaces/{ws}/files/notes.txt", content=b"notes").status_code == 201
    return {
        "ws": ws,
        "code": "simple",
        "number": "1",
        "slug": "cases",
        "version": "1",
        "name": "cases.csv",
        "path": "notes.txt",
    }


def _openapi(world: World) -> dict[str, Any]:
    response = httpx.get(f"{world.server.url}/api/v1/openapi.json", timeout=30)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _fuzz(
    world: World,
    declared: set[str],
    operation: Any,
    mode: schemathesis.GenerationMode,
    examples: int,
    headers: dict[str, str],
    fixed: dict[str, str],
) -> dict[tuple[str, int], str]:
    """Problems found on one operation, by (operation, status): 5xx and undeclared statuses."""
    params = [p.name for p in operation.path_parameters]
    if mode is NEGATIVE:
        # Invalid queries and bodies: the path stays put (generating invalid paths is slow
        # and only ever reaches the router's 404 and 422).
        path = {name: fixed.get(name, "x") for name in params}
    else:
        path = {name: fixed[name] for name in params if name in fixed}
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path)
    base = f"{world.server.url}/api/v1"
    label = f"{operation.method.upper()} {operation.path}"
    problems: dict[tuple[str, int], str] = {}

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = case.call(base_url=base, headers=headers)
        status = response.status_code
        if status >= 500 or str(status) not in declared:
            problems[(label, status)] = (
                f"{label} ({mode.value}): {status}, declared {sorted(declared)}: "
                f"{response.text[:300]}\n    {case.as_curl_command(headers=headers)}"
            )

    with contextlib.suppress(Unsatisfiable):  # nothing to make invalid (no query, no body)
        check()
    return problems


@pytest.mark.parametrize("signed_in", [True, False], ids=["token", "anonymous"])
def test_no_server_errors_and_only_declared_statuses(world: World, signed_in: bool) -> None:
    document = _openapi(world)
    schema = schemathesis.openapi.from_dict(document)
    fixed: dict[str, str] = {}
    headers: dict[str, str] = {}
    if signed_in:
        admin = world.person(superuser=True)
        headers = {"Authorization": f"Bearer {admin.token}"}
        fixed = _things(admin.api, world.workspace(admin))
    problems: dict[tuple[str, int], str] = {}
    walked = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        walked += 1
        spec = document["paths"][operation.path][operation.method.lower()]
        declared = set(spec["responses"])
        for mode, examples in EXAMPLES.items():
            if not signed_in and "401" in declared:
                # Without a token every input gets the same 401: one request says it.
                if mode is NEGATIVE:
                    continue
                examples = 1
            found = _fuzz(world, declared, operation, mode, examples, headers, fixed)
            problems.update(found)
    assert walked == sum(len(ops) for ops in document["paths"].values())
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems.values())
