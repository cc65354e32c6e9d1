"""``DHIS2.tracker_events`` and ``DHIS2.tracked_entities`` over real HTTP: the emulator as
DHIS2 2.40 (``instances``, flat paging) and 2.41 (``pager``, named collection), and a fake
DHIS2 that gives no totals, or answers in the other version's shape."""

from __future__ import annotations

from typing import Any

import httpx
import polars as pl
import pytest

from joliba.dhis2.client import DHIS2
from tests.dhis2.emulator_support import live_emulator
from tests.dhis2.replay import Handler, replay

SPECIES = {"P. falciparum", "P. vivax", "P. malariae", "Mixed"}


def _client(url: Any, **options: Any) -> DHIS2:
    return DHIS2(str(url), username="admin", password="district", backoff=0.01, **options)


def _unpaged(emulator: httpx.Client, path: str, version: str, **params: str) -> list[Any]:
    """Everything at once, as DHIS2 gives it without paging."""
    off = {"paging": "false"} if version == "2.41" else {"skipPaging": "true"}
    body = emulator.get(f"/api/tracker/{path}", params={**params, **off}).json()
    return list(body.get("instances") or body.get(path.split("/")[-1]) or [])


@pytest.mark.parametrize("version", ["2.40", "2.41"])
def test_every_page_is_read_once(version: str) -> None:
    with live_emulator(seed=3, scale=0.1, version=version) as emulator:
        with _client(emulator.base_url, max_parallel=3) as dhis2:
            programs = dhis2.programs()
            event_program = programs.filter(pl.col("program_type") == "WITHOUT_REGISTRATION")
            tracker_program = programs.filter(pl.col("program_type") == "WITH_REGISTRATION")
            regions = dhis2.organisation_units(level=2)["id"].to_list()[:2]

            events = dhis2.tracker_events(
                program=event_program["id"][0], org_units=regions, page_size=37
            )
            entities = dhis2.tracked_entities(
                program=tracker_program["id"][0], org_units=regions[:1], page_size=50
            )
            recent = dhis2.tracker_events(
                program=event_program["id"][0],
                org_units=regions[:1],
                occurred_after="2024-01-01",
                page_size=10,
            )
        expected = [
            e["event"]
            for region in regions
            for e in _unpaged(
                emulator,
                "events",
                version,
                program=event_program["id"][0],
                orgUnit=region,
                orgUnitMode="DESCENDANTS",
            )
        ]
        expected_entities = _unpaged(
            emulator,
            "trackedEntities",
            version,
            program=tracker_program["id"][0],
            orgUnits=regions[0],
            orgUnitMode="DESCENDANTS",
        )
    assert events.height == len(expected) > 37 * 3
    assert events["event"].to_list() == expected and events["event"].n_unique() == events.height
    assert events.columns[:7] == [
        "event",
        "status",
        "program",
        "program_stage",
        "enrollment",
        "tracked_entity",
        "org_unit",
    ]
    species = [c for c in events.columns if "_" not in c and len(c) == 11]
    assert len(species) == 1 and set(events[species[0]]) <= SPECIES
    assert events.schema[species[0]] == pl.String and events.schema["deleted"] == pl.Boolean
    assert entities.height == len(expected_entities) > 50
    assert entities["tracked_entity"].n_unique() == entities.height
    assert set(entities["tracked_entity"]) == {e["trackedEntity"] for e in expected_entities}
    assert 0 < recent.height < events.height
    assert recent["occurred_at"].min() >= "2024-01-01"  # type: ignore[operator]


def _fake_tracker(
    version: str, shape: str, total: int, attributes: bool = False
) -> tuple[Handler, list[dict[str, list[str]]]]:
    """Events or tracked entities as a server of ``version`` that answers in ``shape``
    ("2.40" or "2.41") and never gives totals."""
    asked: list[dict[str, list[str]]] = []

    def answer(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path.endswith("system/info"):
            return 200, {"version": version}
        asked.append(query)
        name = path.rsplit("/", 1)[-1]
        page = int(query["page"][0])
        size = int(query["pageSize"][0])
        numbers = range((page - 1) * size, min(total, page * size))
        if name == "events":
            items = [
                {
                    "event": f"Event{n:06d}",
                    "orgUnit": "OrgUnit0001",
                    "occurredAt": "2024-01-02T00:00:00.000",
                    "deleted": False,
                    "dataValues": [
                        {"dataElement": "DataElemnt1", "value": str(n)},
                        *([{"dataElement": "DataElemnt2", "value": "x"}] if n % 2 else []),
                    ],
                }
                for n in numbers
            ]
        else:
            items = [
                {
                    "trackedEntity": f"Entity{n:05d}",
                    "orgUnit": "OrgUnit0001",
                    "geometry": {"type": "Point", "coordinates": [2.1, 13.5]},
                    "attributes": [{"attribute": "Attribute01", "value": f"name {n}"}]
                    if attributes
                    else [],
                }
                for n in numbers
            ]
        if shape == "2.41":
            return 200, {"pager": {"page": page, "pageSize": size}, name: items}
        return 200, {"page": page, "pageSize": size, "instances": items}

    return answer, asked


@pytest.mark.parametrize(
    ("version", "shape"), [("2.40", "2.40"), ("2.41", "2.41"), ("2.40", "2.41")]
)
def test_without_totals_pages_are_read_until_a_short_one(version: str, shape: str) -> None:
    with replay() as server, _client(server.url) as dhis2:
        server.handler, asked = _fake_tracker(version, shape, total=30)
        events = dhis2.tracker_events(
            program="Program0001", org_units=["OrgUnit0001"], page_size=10
        )
        # 30 events in pages of 10: the fourth page comes back empty.
        assert [q["page"] for q in asked] == [["1"], ["2"], ["3"], ["4"]]
        assert events["event"].to_list() == [f"Event{n:06d}" for n in range(30)]
        assert events["DataElemnt1"].to_list() == [str(n) for n in range(30)]
        assert events["DataElemnt2"].null_count() == 15
        modern = version == "2.41"
        assert asked[0]["orgUnit"] == ["OrgUnit0001"]
        assert ("orgUnitMode" in asked[0]) is modern and ("ouMode" in asked[0]) is not modern
        assert asked[0]["totalPages"] == ["true"]

        server.handler, asked = _fake_tracker(version, shape, total=25, attributes=True)
        entities = dhis2.tracked_entities(
            program="Program0002", org_units=["OrgUnit0001", "OrgUnit0002"], page_size=10
        )
        assert [q["page"] for q in asked] == [["1"], ["2"], ["3"]]
        assert entities.height == 25 and entities["Attribute01"][24] == "name 24"
        assert entities["geometry"][0] == '{"type":"Point","coordinates":[2.1,13.5]}'
        if modern:
            assert asked[0]["orgUnits"] == ["OrgUnit0001,OrgUnit0002"]
            assert asked[0]["orgUnitMode"] == ["DESCENDANTS"]
        else:
            assert asked[0]["orgUnit"] == ["OrgUnit0001;OrgUnit0002"]
            assert asked[0]["ouMode"] == ["DESCENDANTS"]


def test_without_org_units_the_accessible_ones_are_read() -> None:
    with replay() as server, _client(server.url) as dhis2:
        server.handler, asked = _fake_tracker("2.41", "2.41", total=3)
        found = dhis2.tracked_entities(tracked_entity_type="EntityType1")
        assert found.height == 3 and list(found.columns[:3]) == [
            "tracked_entity",
            "tracked_entity_type",
            "org_unit",
        ]
        assert asked[0]["orgUnitMode"] == ["ACCESSIBLE"] and "orgUnits" not in asked[0]
        with pytest.raises(ValueError, match="program or a tracked_entity_type"):
            dhis2.tracked_entities()
