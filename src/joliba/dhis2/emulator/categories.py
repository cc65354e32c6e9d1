"""The country's category model: DHIS2's default combo, the disaggregations (age, sex,
location) with their option combos, and the funding attribute combo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joliba.dhis2.emulator.ids import (
    DEFAULT_CATEGORY,
    DEFAULT_COC,
    DEFAULT_COMBO,
    DEFAULT_OPTION,
    base,
    ref,
    uid,
)

if TYPE_CHECKING:
    from joliba.dhis2.emulator.country import Country


def build_categories(country: Country) -> None:
    seed = country.seed
    option = base(DEFAULT_OPTION, "default")
    country.add("categoryOptions", option)
    category = base(DEFAULT_CATEGORY, "default")
    category.update(
        {"dataDimensionType": "DISAGGREGATION", "categoryOptions": [ref(DEFAULT_OPTION)]}
    )
    country.add("categories", category)
    combo = base(DEFAULT_COMBO, "default")
    combo.update(
        {
            "dataDimensionType": "DISAGGREGATION",
            "categories": [ref(DEFAULT_CATEGORY)],
            "categoryOptionCombos": [ref(DEFAULT_COC)],
            "isDefault": True,
        }
    )
    country.add("categoryCombos", combo)
    coc = base(DEFAULT_COC, "default")
    coc.update(
        {
            "categoryCombo": ref(DEFAULT_COMBO),
            "categoryOptions": [ref(DEFAULT_OPTION)],
            "ignoreApproval": False,
        }
    )
    country.add("categoryOptionCombos", coc)
    country.combo_cocs[DEFAULT_COMBO] = [DEFAULT_COC]
    options = {
        "sex": ["Male", "Female"],
        "age": ["<5y", "5y+"],
        "location": ["Fixed", "Outreach"],
    }
    option_ids: dict[str, dict[str, str]] = {}
    for cat, names in options.items():
        option_ids[cat] = {}
        for name in names:
            item = base(uid(seed, "co", cat, name), name)
            country.add("categoryOptions", item)
            option_ids[cat][name] = item["id"]
        category = base(uid(seed, "cat", cat), cat.capitalize())
        category.update(
            {
                "dataDimensionType": "DISAGGREGATION",
                "categoryOptions": [ref(i) for i in option_ids[cat].values()],
            }
        )
        country.add("categories", category)
    combos = {"age_sex": ["age", "sex"], "age": ["age"], "sex": ["sex"], "location": ["location"]}
    for key, cats in combos.items():
        combo_id = uid(seed, "cc", key)
        combo = base(combo_id, " and ".join(c.capitalize() for c in cats))
        tuples: list[list[str]] = [[]]
        for cat in cats:
            tuples = [[*t, name] for t in tuples for name in options[cat]]
        coc_ids = []
        for names in tuples:
            coc = base(uid(seed, "coc", key, *names), ", ".join(names))
            coc.update(
                {
                    "categoryCombo": ref(combo_id),
                    "categoryOptions": [
                        ref(option_ids[cat][name]) for cat, name in zip(cats, names, strict=True)
                    ],
                    "ignoreApproval": False,
                }
            )
            country.add("categoryOptionCombos", coc)
            coc_ids.append(coc["id"])
        combo.update(
            {
                "dataDimensionType": "DISAGGREGATION",
                "categories": [ref(uid(seed, "cat", c)) for c in cats],
                "categoryOptionCombos": [ref(c) for c in coc_ids],
                "isDefault": False,
            }
        )
        country.add("categoryCombos", combo)
        country.combo_cocs[combo_id] = coc_ids
    _funding(country)


def _funding(country: Country) -> None:
    """An attribute combo, as data sets reported by several funders or partners have: the
    values of its data set are told apart by their attribute option combo."""
    seed = country.seed
    names = ["Government", "Donor"]
    option_ids = []
    for name in names:
        option = base(uid(seed, "co", "funding", name), name)
        country.add("categoryOptions", option)
        option_ids.append(option["id"])
    category = base(uid(seed, "cat", "funding"), "Funding")
    category.update(
        {"dataDimensionType": "ATTRIBUTE", "categoryOptions": [ref(i) for i in option_ids]}
    )
    country.add("categories", category)
    combo = base(uid(seed, "cc", "funding"), "Funding")
    coc_ids = []
    for name, option_id in zip(names, option_ids, strict=True):
        coc = base(uid(seed, "coc", "funding", name), name)
        coc.update(
            {
                "categoryCombo": ref(combo["id"]),
                "categoryOptions": [ref(option_id)],
                "ignoreApproval": False,
            }
        )
        country.add("categoryOptionCombos", coc)
        coc_ids.append(coc["id"])
    combo.update(
        {
            "dataDimensionType": "ATTRIBUTE",
            "categories": [ref(category["id"])],
            "categoryOptionCombos": [ref(c) for c in coc_ids],
            "isDefault": False,
        }
    )
    country.add("categoryCombos", combo)
    country.combo_cocs[combo["id"]] = coc_ids
