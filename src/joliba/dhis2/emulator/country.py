"""A synthetic country, the same for the same seed and scale: its organisation unit tree with
geometry, categories, data elements, data sets, indicators and programs, as DHIS2 metadata.

Every object is stored the way DHIS2 answers ``fields=*``: references to other objects are
``{"id": uid}`` and are resolved on demand (``fields=parent[id,name]``). Data values are not
here: they are computed from the seed when asked for (see ``values.py``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from joliba.dhis2.emulator.catalogue import (
    FACILITY_KINDS,
    IDSR,
    MALARIA,
    REGIONS,
    STOCK_ITEMS,
    SYLLABLES,
    THEMES,
)
from joliba.dhis2.emulator.categories import build_categories
from joliba.dhis2.emulator.geometry import ISLAND_DISTRICTS, MAINLAND, district_geometry, rectangle
from joliba.dhis2.emulator.ids import DEFAULT_COC, DEFAULT_COMBO, Obj, base, ref, uid


@dataclass
class Country:
    """Metadata collections by DHIS2 resource name, with a few indexes the API needs."""

    seed: int
    scale: float
    collections: dict[str, list[Obj]] = field(default_factory=dict)
    by_id: dict[str, Obj] = field(default_factory=dict)
    kind_of: dict[str, str] = field(default_factory=dict)
    # uid -> [uids of the combo's category option combos]
    combo_cocs: dict[str, list[str]] = field(default_factory=dict)
    # data element uid -> period type of its data set
    period_type: dict[str, str] = field(default_factory=dict)
    # data element uid -> relative size of its values
    magnitude: dict[str, float] = field(default_factory=dict)
    facility_size: dict[str, float] = field(default_factory=dict)
    # org unit uid -> its facilities, filled as asked (every dataValueSets request asks)
    _facilities: dict[str, list[Obj]] = field(default_factory=dict, repr=False, compare=False)

    def add(self, collection: str, obj: Obj) -> Obj:
        self.collections.setdefault(collection, []).append(obj)
        self.by_id[obj["id"]] = obj
        self.kind_of[obj["id"]] = collection
        return obj

    def get(self, collection: str, identifier: str) -> Obj | None:
        if self.kind_of.get(identifier) != collection:
            return None
        return self.by_id[identifier]

    @property
    def root(self) -> Obj:
        return self.collections["organisationUnits"][0]

    def level(self, number: int) -> list[Obj]:
        return [o for o in self.collections["organisationUnits"] if o["level"] == number]

    def facilities_under(self, org_unit: Obj) -> list[Obj]:
        found = self._facilities.get(org_unit["id"])
        if found is None:
            path = org_unit["path"]
            found = [f for f in self.level(4) if f["path"].startswith(path)]
            self._facilities[org_unit["id"]] = found
        return list(found)

    def data_elements_of(self, data_set: Obj) -> list[str]:
        return [e["dataElement"]["id"] for e in data_set["dataSetElements"]]

    def cocs_of(self, data_element: str) -> list[str]:
        combo = self.by_id[data_element]["categoryCombo"]["id"]
        return self.combo_cocs[combo]

    def attribute_option_combos_of(self, data_element: str) -> set[str]:
        """The attribute option combos of the data sets the element is in (the default one
        for an element in none)."""
        found: set[str] = set()
        for member in self.by_id[data_element].get("dataSetElements") or []:
            data_set = self.by_id[member["dataSet"]["id"]]
            found.update(self.combo_cocs[data_set["categoryCombo"]["id"]])
        return found or {DEFAULT_COC}


def build_country(seed: int = 1, scale: float = 1.0) -> Country:
    """The synthetic country of a seed: 1 national unit, 8 regions, 72 districts and about
    1 500 x ``scale`` facilities, with about 150 data elements."""
    country = Country(seed=seed, scale=scale)
    rng = random.Random(seed)  # noqa: S311 (synthetic data, not security)
    _org_units(country, rng)
    build_categories(country)
    _data_elements(country, rng)
    _data_sets_and_indicators(country)
    _programs(country)
    return country


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def _org_unit(
    country: Country,
    identifier: str,
    name: str,
    level: int,
    parent: Obj | None,
    geometry: Obj,
    code: str,
) -> Obj:
    obj = base(identifier, name, code=code)
    obj.update(
        {
            "level": level,
            "path": (parent["path"] if parent else "") + "/" + identifier,
            "openingDate": "1990-01-01T00:00:00.000",
            "leaf": level == 4,
            "children": [],
            "geometry": geometry,
        }
    )
    if parent is not None:
        obj["parent"] = ref(parent["id"])
        parent["children"].append(ref(identifier))
    return country.add("organisationUnits", obj)


def _org_units(country: Country, rng: random.Random) -> None:
    seed = country.seed
    west, south, east, north = 0.2, 11.7, 15.9, 23.4
    national = _org_unit(
        country,
        uid(seed, "ou", 0),
        "Joliba",
        1,
        None,
        rectangle(west, south, east, north),
        "OU_JOLIBA",
    )
    region_w, region_h = (east - west) / 4, (north - south) / 2
    per_district = 1500 / 72
    groups: dict[str, list[str]] = {kind: [] for kind, _ in FACILITY_KINDS}
    ownership: dict[str, list[str]] = {"Public": [], "Private": []}
    for r, region_name in enumerate(REGIONS):
        rw, rs = west + (r % 4) * region_w, south + (r // 4) * region_h
        region = _org_unit(
            country,
            uid(seed, "ou", r + 1),
            region_name,
            2,
            national,
            rectangle(rw, rs, rw + region_w, rs + region_h),
            f"OU_R{r + 1:02d}",
        )
        for d in range(9):
            dw, ds = rw + (d % 3) * region_w / 3, rs + (d // 3) * region_h / 3
            dname = f"{_word(rng, 2)} ({region_name})" if d else f"{region_name} Commune"
            islands = ISLAND_DISTRICTS.get(d, 0)
            district = _org_unit(
                country,
                uid(seed, "ou", r + 1, d + 1),
                dname,
                3,
                region,
                district_geometry(dw, ds, region_w / 3, region_h / 3, islands),
                f"OU_D{r + 1:02d}{d + 1:02d}",
            )
            count = max(1, round(per_district * country.scale * rng.uniform(0.7, 1.3)))
            for f in range(count):
                kind = rng.choices(
                    [k for k, _ in FACILITY_KINDS], weights=[w for _, w in FACILITY_KINDS]
                )[0]
                # the same draws with or without islands: the rest of the country is unchanged
                across = rng.uniform(0.02, 0.98) * (MAINLAND if islands else 1.0)
                point = {
                    "type": "Point",
                    "coordinates": [
                        round(dw + across * region_w / 3, 4),
                        round(ds + rng.uniform(0.02, 0.98) * region_h / 3, 4),
                    ],
                }
                facility = _org_unit(
                    country,
                    uid(seed, "ou", r + 1, d + 1, f + 1),
                    f"{kind} {_word(rng, rng.randint(2, 3))}",
                    4,
                    district,
                    point,
                    f"OU_F{r + 1:02d}{d + 1:02d}{f + 1:03d}",
                )
                groups[kind].append(facility["id"])
                ownership["Private" if kind == "Clinique" else "Public"].append(facility["id"])
                size = {"Hôpital de district": 4.0, "CSI": 1.5, "Clinique": 0.8}.get(kind, 0.6)
                country.facility_size[facility["id"]] = size * rng.uniform(0.6, 1.4)
    units = country.collections["organisationUnits"]
    units.sort(key=lambda o: (o["level"], o["path"]))
    for number, name in enumerate(["National", "Region", "District", "Facility"], start=1):
        level = base(uid(seed, "level", number), name)
        level.update({"level": number})
        country.add("organisationUnitLevels", level)
    for name, members in {**groups, **ownership}.items():
        group = base(uid(seed, "ougroup", name), name, short=name)
        group["organisationUnits"] = [ref(m) for m in members]
        country.add("organisationUnitGroups", group)


def _data_element(
    country: Country,
    key: str,
    name: str,
    combo: str,
    *,
    value_type: str = "INTEGER_ZERO_OR_POSITIVE",
    aggregation: str = "SUM",
    domain: str = "AGGREGATE",
    magnitude: float = 10.0,
    period_type: str = "Monthly",
) -> Obj:
    identifier = uid(country.seed, "de", key)
    obj = base(identifier, name, code="DE_" + key.upper().replace(" ", "_")[:40])
    combo_id = DEFAULT_COMBO if combo == "default" else uid(country.seed, "cc", combo)
    obj.update(
        {
            "valueType": value_type,
            "aggregationType": aggregation,
            "domainType": domain,
            "zeroIsSignificant": False,
            "categoryCombo": ref(combo_id),
            "dataSetElements": [],
            "dataElementGroups": [],
            "aggregationLevels": [],
        }
    )
    if domain == "AGGREGATE":
        country.period_type[identifier] = period_type
        country.magnitude[identifier] = magnitude
    return country.add("dataElements", obj)


def _data_elements(country: Country, rng: random.Random) -> None:
    groups: dict[str, list[str]] = {}
    for name, combo in MALARIA:
        stock = "stock" in name.lower()
        de = _data_element(
            country,
            "malaria " + name,
            name,
            combo,
            aggregation="AVERAGE" if "on hand" in name else "SUM",
            magnitude=rng.uniform(3, 40) * (3 if stock else 1),
        )
        groups.setdefault("Malaria", []).append(de["id"])
    for theme, names in THEMES.items():
        for name in names:
            combo = (
                "location"
                if theme in ("EPI", "ANC")
                else "sex"
                if theme in ("OPD", "HIV", "TB")
                else "default"
            )
            de = _data_element(
                country, f"{theme} {name}", name, combo, magnitude=rng.uniform(1, 60)
            )
            groups.setdefault(theme, []).append(de["id"])
    for disease in IDSR:
        for what in ("cases", "deaths"):
            de = _data_element(
                country,
                f"idsr {disease} {what}",
                f"IDSR {disease} {what}",
                "age" if what == "cases" else "default",
                magnitude=rng.uniform(0.1, 3) / (8 if what == "deaths" else 1),
                period_type="Weekly",
            )
            groups.setdefault("IDSR", []).append(de["id"])
    for item in STOCK_ITEMS:
        for what, aggregation in (
            ("stock on hand", "AVERAGE"),
            ("consumed", "SUM"),
            ("stock-out days", "SUM"),
        ):
            de = _data_element(
                country,
                f"stock {item} {what}",
                f"{item} {what}",
                "default",
                aggregation=aggregation,
                magnitude=rng.uniform(5, 200),
            )
            groups.setdefault("Stocks", []).append(de["id"])
    for name in ("Facility open days", "Staff present", "Beds available"):
        de = _data_element(
            country,
            f"facility {name}",
            name,
            "default",
            value_type="NUMBER",
            aggregation="AVERAGE",
            magnitude=rng.uniform(5, 30),
        )
        groups.setdefault("Facility", []).append(de["id"])
    for name in ("Fever onset date", "Travel history", "Malaria species", "Case classification"):
        _data_element(
            country,
            f"tracker {name}",
            name,
            "default",
            value_type="TEXT",
            aggregation="NONE",
            domain="TRACKER",
        )
    for name, members in groups.items():
        group = base(uid(country.seed, "degroup", name), name)
        group["dataElements"] = [ref(m) for m in members]
        country.add("dataElementGroups", group)
        for member in members:
            country.by_id[member]["dataElementGroups"].append(ref(group["id"]))


def _data_sets_and_indicators(country: Country) -> None:
    seed = country.seed
    facilities = [ref(f["id"]) for f in country.level(4)]
    groups = {g["name"]: g for g in country.collections["dataElementGroups"]}
    funding = uid(seed, "cc", "funding")
    # name, period type, element groups, attribute combo, whether the form names the
    # disaggregation of its elements (a data set element's categoryCombo; here always the
    # element's own, so that its values have the same combos in every data set)
    sets = [
        ("Malaria monthly report", "Monthly", ["Malaria"], DEFAULT_COMBO, False),
        (
            "Reproductive and child health",
            "Monthly",
            ["ANC", "Delivery", "Family planning"],
            DEFAULT_COMBO,
            False,
        ),
        ("Immunisation and nutrition", "Monthly", ["EPI", "Nutrition"], DEFAULT_COMBO, False),
        ("HIV and TB", "Monthly", ["HIV", "TB"], DEFAULT_COMBO, False),
        ("Outpatient monthly report", "Monthly", ["OPD", "Facility"], DEFAULT_COMBO, False),
        ("Essential medicines stock", "Monthly", ["Stocks"], DEFAULT_COMBO, False),
        ("IDSR weekly report", "Weekly", ["IDSR"], DEFAULT_COMBO, True),
        # HIV values entered again by funder: only imported values have its option combos
        ("HIV services by funding", "Monthly", ["HIV"], funding, False),
    ]
    for name, period_type, group_names, attribute_combo, named in sets:
        identifier = uid(seed, "ds", name)
        data_set = base(identifier, name)
        elements = [m["id"] for g in group_names for m in groups[g]["dataElements"]]
        entries: list[Obj] = []
        for element in elements:
            entry: Obj = {"dataSet": ref(identifier), "dataElement": ref(element)}
            combo = country.by_id[element]["categoryCombo"]["id"]
            if named and combo != DEFAULT_COMBO:
                entry["categoryCombo"] = ref(combo)
            entries.append(entry)
            # one DataSetElement, seen from the data set and from the element
            country.by_id[element]["dataSetElements"].append(dict(entry))
        data_set.update(
            {
                "periodType": period_type,
                "categoryCombo": ref(attribute_combo),
                "openFuturePeriods": 0,
                "expiryDays": 0,
                "timelyDays": 15,
                "dataSetElements": entries,
                "organisationUnits": facilities,
                "indicators": [],
            }
        )
        country.add("dataSets", data_set)
    percent = base(uid(seed, "indtype", "percent"), "Percent")
    percent.update({"factor": 100, "number": False})
    country.add("indicatorTypes", percent)
    number = base(uid(seed, "indtype", "number"), "Number (factor 1)")
    number.update({"factor": 1, "number": True})
    country.add("indicatorTypes", number)

    def de(key: str) -> str:
        return uid(seed, "de", key)

    specs = [
        (
            "Malaria test positivity rate",
            percent,
            [de("malaria Malaria confirmed cases")],
            [de("malaria Malaria tested by RDT"), de("malaria Malaria tested by microscopy")],
            "Malaria",
        ),
        (
            "Malaria testing rate",
            percent,
            [de("malaria Malaria tested by RDT"), de("malaria Malaria tested by microscopy")],
            [de("malaria Malaria suspected cases")],
            "Malaria",
        ),
        (
            "Malaria ACT treatment rate",
            percent,
            [de("malaria Malaria confirmed cases treated with ACT")],
            [de("malaria Malaria confirmed cases")],
            "Malaria",
        ),
        (
            "Malaria case fatality rate",
            percent,
            [de("malaria Malaria deaths")],
            [de("malaria Malaria severe cases")],
            "Malaria",
        ),
        (
            "IPTp3 coverage among IPTp1",
            percent,
            [de("malaria IPTp3 doses given")],
            [de("malaria IPTp1 doses given")],
            "Malaria",
        ),
        (
            "ANC 1-4 dropout",
            percent,
            [de("ANC ANC 1st visit")],
            [de("ANC ANC 4th or more visits")],
            "RMNCH",
        ),
        (
            "Penta 1-3 dropout rate",
            percent,
            [de("EPI Penta 1 doses given")],
            [de("EPI Penta 3 doses given")],
            "EPI",
        ),
        ("Total consultations", number, [de("OPD Outpatient consultations")], [], "OPD"),
    ]
    by_group: dict[str, list[str]] = {}
    for name, kind, numerator, denominator, group_name in specs:
        indicator = base(uid(seed, "ind", name), name)
        indicator.update(
            {
                "indicatorType": ref(kind["id"]),
                "numerator": "+".join(f"#{{{d}}}" for d in numerator),
                "numeratorDescription": name,
                "denominator": "+".join(f"#{{{d}}}" for d in denominator) or "1",
                "denominatorDescription": "",
                "annualized": False,
                "decimals": 1,
            }
        )
        country.add("indicators", indicator)
        by_group.setdefault(group_name, []).append(indicator["id"])
    for name, members in by_group.items():
        group = base(uid(seed, "indgroup", name), name)
        group["indicators"] = [ref(m) for m in members]
        country.add("indicatorGroups", group)
    # the indicators each data set's reports show, by theme
    shown_in = {
        "Malaria": "Malaria monthly report",
        "RMNCH": "Reproductive and child health",
        "EPI": "Immunisation and nutrition",
        "OPD": "Outpatient monthly report",
    }
    for group_name, data_set_name in shown_in.items():
        data_set = country.by_id[uid(seed, "ds", data_set_name)]
        data_set["indicators"] = [ref(i) for i in by_group[group_name]]


def _programs(country: Country) -> None:
    seed = country.seed
    person = base(uid(seed, "tet", "person"), "Person")
    country.add("trackedEntityTypes", person)
    tracker_des = [
        o["id"] for o in country.collections["dataElements"] if o["domainType"] == "TRACKER"
    ]
    for name, kind in (
        ("Malaria case investigation", "WITHOUT_REGISTRATION"),
        ("Malaria case surveillance", "WITH_REGISTRATION"),
    ):
        identifier = uid(seed, "program", name)
        stage_id = uid(seed, "stage", name)
        stage = base(stage_id, "Case investigation")
        stage.update(
            {
                "program": ref(identifier),
                "repeatable": False,
                "programStageDataElements": [{"dataElement": ref(d)} for d in tracker_des],
            }
        )
        country.add("programStages", stage)
        program = base(identifier, name)
        program.update(
            {
                "programType": kind,
                "programStages": [ref(stage_id)],
                "categoryCombo": ref(DEFAULT_COMBO),
                "organisationUnits": [ref(f["id"]) for f in country.level(4)],
            }
        )
        if kind == "WITH_REGISTRATION":
            program["trackedEntityType"] = ref(person["id"])
        country.add("programs", program)


def today() -> date:
    return date.today()
