// The map of a dataset table (datasets/map.html): its shapes coloured by their value for the
// chosen period, in five classes of about as many shapes each, with a legend and tooltips.
// No tiles unless the instance sets JOLIBA_MAP_TILE_URL: the boundaries are the map, so
// nothing is fetched from the internet.
(function () {
  "use strict";
  const holder = document.getElementById("map");
  const data = document.getElementById("map-data");
  if (!holder || !data || !window.L) return;
  const layer = JSON.parse(data.textContent);
  const periods = layer.periods;
  const slider = document.getElementById("map-period");
  const shown = document.getElementById("map-period-label");
  const legend = document.getElementById("map-legend");
  // Colour-blind-safe sequential classes (ColorBrewer YlOrRd 5), and grey for no value.
  const COLOURS = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
  const EMPTY = "#d9d9d9";
  let period = periods.length ? periods[periods.length - 1] : "";

  const valueOf = (feature) => {
    const v = feature.properties.values[period];
    return typeof v === "number" ? v : null;
  };
  const format = (v) => (Number.isInteger(v) ? v.toLocaleString() : v.toLocaleString(undefined, { maximumFractionDigits: 2 }));

  function breaks() {
    const values = layer.features.map(valueOf).filter((v) => v !== null).sort((a, b) => a - b);
    if (!values.length) return [];
    const cuts = [];
    for (let i = 1; i < COLOURS.length; i += 1) {
      cuts.push(values[Math.min(values.length - 1, Math.floor((i * values.length) / COLOURS.length))]);
    }
    return cuts.filter((c, i) => i === 0 || c !== cuts[i - 1]);
  }

  function colour(value, cuts) {
    if (value === null) return EMPTY;
    let k = 0;
    while (k < cuts.length && value >= cuts[k]) k += 1;
    return COLOURS[Math.round((k * (COLOURS.length - 1)) / Math.max(1, cuts.length))];
  }

  function tooltip(feature) {
    const box = document.createElement("div");
    const name = document.createElement("strong");
    name.textContent = feature.properties.label || "(no name)";
    const value = valueOf(feature);
    box.append(name, document.createTextNode(": " + (value === null ? "no value" : format(value))));
    if (period) box.append(document.createTextNode(" (" + period + ")"));
    return box;
  }

  const map = L.map(holder, { attributionControl: false, zoomSnap: 0.25 });
  // JOLIBA_MAP_TILE_URL: a tile server the instance has, drawn under the shapes.
  if (holder.dataset.tiles) L.tileLayer(holder.dataset.tiles, { maxZoom: 19 }).addTo(map);
  const shapes = L.geoJSON(layer, {
    style: { weight: 1, color: "#555", fillOpacity: 0.85 },
    pointToLayer: (feature, latlng) => L.circleMarker(latlng, { radius: 6 }),
    onEachFeature: (feature, drawn) => drawn.bindTooltip(() => tooltip(feature), { sticky: true }),
  }).addTo(map);
  const bounds = shapes.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12] });

  function drawLegend(cuts) {
    legend.replaceChildren();
    const item = (fill, text) => {
      const entry = document.createElement("span");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = fill;
      entry.append(swatch, document.createTextNode(text));
      legend.append(entry);
    };
    const low = layer.range ? layer.range[0] : 0;
    const edges = [low, ...cuts];
    edges.forEach((edge, i) => {
      const fill = colour(edge, cuts);
      item(fill, i + 1 < edges.length ? format(edge) + " – " + format(edges[i + 1]) : "≥ " + format(edge));
    });
    item(EMPTY, "no value");
  }

  function draw() {
    const cuts = breaks();
    shapes.eachLayer((drawn) => {
      drawn.setStyle({ fillColor: colour(valueOf(drawn.feature), cuts) });
      drawn.getElement && drawn.getElement() && drawn.getElement().setAttribute("data-value", String(valueOf(drawn.feature)));
    });
    drawLegend(cuts);
    if (shown) shown.textContent = period;
  }

  if (slider) {
    slider.addEventListener("input", () => {
      period = periods[Number(slider.value)];
      draw();
    });
  }
  draw();
})();
