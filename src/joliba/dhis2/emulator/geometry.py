"""The synthetic country's shapes: org unit cells as GeoJSON rectangles, and districts with
islands as MultiPolygons, as real coastal and lake districts are."""

from __future__ import annotations

from joliba.dhis2.emulator.ids import Obj


def rectangle(west: float, south: float, east: float, north: float) -> Obj:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [[[round(x, 4), round(y, 4)] for x, y in ring]]}


def multipolygon(*parts: tuple[float, float, float, float]) -> Obj:
    """Several rectangles (west, south, east, north) as one GeoJSON MultiPolygon."""
    return {"type": "MultiPolygon", "coordinates": [rectangle(*p)["coordinates"] for p in parts]}


#: Districts (by their number in the region) with islands off their east coast, as real
#: coastal and lake districts are MultiPolygons; the value is how many islands.
ISLAND_DISTRICTS = {2: 1, 6: 2}
#: The share of such a district's cell (from its west edge) that is mainland; its facilities
#: are placed there.
MAINLAND = 0.7


def district_geometry(west: float, south: float, width: float, height: float, islands: int) -> Obj:
    """A district's cell as a rectangle, or as mainland and islands when it has some."""
    if not islands:
        return rectangle(west, south, west + width, south + height)
    parts = [(west, south, west + (MAINLAND + 0.02) * width, south + height)]
    spans = [(0.55, 0.8), (0.15, 0.35)][:islands]
    for low, high in spans:
        parts.append(
            (west + 0.8 * width, south + low * height, west + 0.95 * width, south + high * height)
        )
    return multipolygon(*parts)
