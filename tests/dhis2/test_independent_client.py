"""An independent client written for real DHIS2 servers, dhis2.py (PyPI, not ours), works
against the emulator unchanged: version, paging, data values, an import and DHIS2's errors."""

from __future__ import annotations

import pytest

from dhis2 import Api, RequestException  # dhis2.py from PyPI, not tests/dhis2
from tests.dhis2.emulator_support import live_emulator


@pytest.mark.parametrize("version", ["2.38", "2.40"])
def test_dhis2_py_reads_pages_values_and_errors(version: str) -> None:
    with live_emulator(scale=0.1, version=version) as emulator:
        url = str(emulator.base_url).rstrip("/")
        api = Api(url, "admin", "district")
        assert api.version == emulator.get("/api/system/info").json()["version"]
        assert api.version_int == int(version.split(".")[1])

        pages = list(api.get_paged("dataElements", page_size=40))
        elements = [e for page in pages for e in page["dataElements"]]
        assert len(pages) == 4 and len({e["id"] for e in elements}) == 150

        units = api.get_paged(
            "organisationUnits", page_size=100, params={"fields": "id,level"}, merge=True
        )["organisationUnits"]
        region = next(u["id"] for u in units if u["level"] == 2)
        data_set = api.get("dataSets", params={"fields": "id,periodType"}).json()["dataSets"]
        monthly = next(d["id"] for d in data_set if d["periodType"] == "Monthly")
        values = api.get(
            "dataValueSets",
            params={"dataSet": monthly, "orgUnit": region, "children": True, "period": "202401"},
        ).json()["dataValues"]
        assert values and {v["period"] for v in values} == {"202401"}

        first = values[0]
        sent = {**first, "value": "4242"}
        answer = api.post("dataValueSets", json={"dataValues": [sent]}).json()
        summary = answer.get("response", answer)  # wrapped from 2.38
        assert summary["importCount"]["updated"] == 1
        again = api.get(
            "dataValueSets",
            params={"dataSet": monthly, "orgUnit": first["orgUnit"], "period": "202401"},
        ).json()["dataValues"]
        assert "4242" in [v["value"] for v in again if v["dataElement"] == first["dataElement"]]

        with pytest.raises(RequestException) as missing:
            api.get("organisationUnits/NoSuchUnit1")
        assert missing.value.code == 404
        with pytest.raises(RequestException) as refused:
            Api(url, "admin", "wrong").get("me")
        assert refused.value.code == 401 and "Unauthorized" in refused.value.description
