// Finding stations: the filters, a Leaflet map with a marker per station coloured by its live
// status (free / busy / offline or unknown) and the same stations as a list. Without configured
// map tiles the map is a plain background with the stations fitted into view.

import { api, ApiError } from '/assets/api.js';
import { $, h } from '/assets/dom.js';
import { busy, clearErrors, showErrors, values } from '/assets/forms.js';
import { t } from '/assets/i18n.js';
import { API } from '/assets/app.js';
import { distance, money, perKwh, stationGroup, units } from '/assets/app-format.js';

const PER_PAGE = 100;
// Shenzhen, where the first operators are, until the driver searches elsewhere.
const DEFAULT_CENTER = { lat: 22.62, lng: 114.06 };
const CENTER_KEY = 'chargebridge.app_center';

const finder = {
  map: null,
  layer: null, // the markers and the search area
  center: JSON.parse(sessionStorage.getItem(CENTER_KEY) ?? 'null') ?? DEFAULT_CENTER,
  query: null, // the filters of the shown results
  stations: new Map(), // id -> {item, statuses: Map(connector id -> status), marker, row}
  total: 0,
  exact: true,
  page: 0,
  loaded: false,
  fitted: false,
};

export async function initFinder() {
  const form = $('#filters');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    search();
  });
  $('#search-here').addEventListener('click', () => {
    if (finder.map) {
      const c = finder.map.getCenter();
      finder.center = { lat: c.lat, lng: c.lng };
    }
    search();
  });
  $('#locate').addEventListener('click', () => {
    if (!navigator.geolocation) return showErrors(form, localError('lat', 'app.locate.unavailable'));
    navigator.geolocation.getCurrentPosition(
      (position) => {
        finder.center = { lat: position.coords.latitude, lng: position.coords.longitude };
        search();
      },
      () => showErrors(form, localError('lat', 'app.locate.refused')),
      { timeout: 10_000 },
    );
  });
  $('#show-map').addEventListener('click', () => setMode('map'));
  $('#show-list').addEventListener('click', () => setMode('list'));

  let settings = { map_tile_url: null, map_tile_attribution: null };
  try {
    settings = await api('GET', '/app/settings.json');
  } catch {
    // No tiles then: the plain map works without them.
  }
  const map = window.L.map('map', { attributionControl: false, zoomSnap: 0.5, keyboard: true });
  if (settings.map_tile_url) {
    window.L.tileLayer(settings.map_tile_url, { maxZoom: 19, subdomains: 'abc' }).addTo(map);
    window.L.control.attribution({ prefix: false }).addAttribution(settings.map_tile_attribution ?? '').addTo(map);
  } else {
    map.getContainer().classList.add('map-plain');
  }
  finder.layer = window.L.featureGroup().addTo(map);
  map.setView([finder.center.lat, finder.center.lng], 11);
  finder.map = map;
  if (!$('#view-find').hidden) refreshFinder();
}

function localError(field, key) {
  return new ApiError(422, { code: 'invalid', message: t(key), message_zh: t(key), fields: [{ field, message: t(key), message_zh: t(key) }] });
}

function setMode(mode) {
  $('#find').dataset.mode = mode;
  $('#show-map').setAttribute('aria-pressed', String(mode === 'map'));
  $('#show-list').setAttribute('aria-pressed', String(mode === 'list'));
  finder.map?.invalidateSize();
}

/** The find view was shown: search once, later only redraw (the map's size may have changed). */
export function refreshFinder({ redrawOnly = false } = {}) {
  if (!finder.map) return;
  finder.map.invalidateSize();
  if (redrawOnly || finder.loaded) return redraw();
  search();
}

function query(form) {
  const input = values(form);
  const q = new URLSearchParams({ lat: finder.center.lat.toFixed(6), lng: finder.center.lng.toFixed(6), radius_m: input.radius_m || '30000' });
  if (input.free_now) q.set('free_now', 'true');
  if (input.dc_only) q.set('dc_only', 'true');
  if (input.min_power_kw) q.set('min_power_kw', input.min_power_kw);
  if (input.max_price) q.set('max_price', input.max_price);
  q.set('per_page', String(PER_PAGE));
  return q;
}

async function search() {
  const form = $('#filters');
  const input = values(form);
  if (input.max_price && units(input.max_price) === null) return showErrors(form, localError('max_price', 'app.filter.max_price.invalid'));
  finder.query = query(form);
  sessionStorage.setItem(CENTER_KEY, JSON.stringify(finder.center));
  await busy(form, async () => {
    try {
      const found = await api('GET', `${API}/stations/nearby?${finder.query}&page=1`);
      clearErrors(form);
      finder.stations.clear();
      finder.page = 1;
      finder.fitted = false;
      add(found);
      finder.loaded = true;
      redraw();
    } catch (error) {
      showErrors(form, error);
    }
  });
}

async function more(button) {
  button.disabled = true;
  try {
    const found = await api('GET', `${API}/stations/nearby?${finder.query}&page=${finder.page + 1}`);
    finder.page += 1;
    add(found);
    redraw();
  } catch (error) {
    showErrors($('#filters'), error);
  }
}

function add(found) {
  finder.total = found.total;
  finder.exact = found.total_exact;
  const minPower = units(finder.query.get('min_power_kw') ?? '');
  const dcOnly = finder.query.get('dc_only') === 'true';
  for (const item of found.items) {
    // `statuses` are those of the connectors that pass the power / DC filters, in their order.
    const fits = item.connectors.filter((c) => (minPower === null || units(c.power_kw) >= minPower) && (!dcOnly || c.dc));
    const statuses = new Map(fits.map((c, i) => [c.id, item.statuses[i] ?? 'unknown']));
    finder.stations.set(item.id, { item, statuses });
  }
}

function groupOf(entry) {
  return stationGroup([...entry.statuses.values()]);
}

function freeText(entry) {
  const all = [...entry.statuses.values()];
  return t('app.station.free_of', { free: all.filter((s) => s === 'available').length, all: all.length });
}

function icon(group) {
  return window.L.divIcon({ className: `station-marker marker-${group}`, iconSize: [22, 22], iconAnchor: [11, 11] });
}

function redraw() {
  const { map, layer } = finder;
  for (const way of ['in', 'out']) {
    const button = map.getContainer().querySelector(`.leaflet-control-zoom-${way}`);
    button?.setAttribute('title', t(`app.map.zoom_${way}`));
    button?.setAttribute('aria-label', t(`app.map.zoom_${way}`));
  }
  layer.clearLayers();
  const points = [];
  const list = [];
  for (const entry of finder.stations.values()) {
    const { item } = entry;
    const group = groupOf(entry);
    const label = `${item.name} · ${t(`app.group.${group}`)}`;
    entry.marker = window.L.marker([item.lat, item.lng], { icon: icon(group), title: label, alt: label, keyboard: true, riseOnHover: true })
      .on('click', () => openStation(item.id))
      // Leaflet gives a marker focus and role="button"; Enter and Space press it.
      .on('keypress', (e) => {
        if (e.originalEvent.key === 'Enter' || e.originalEvent.key === ' ') {
          e.originalEvent.preventDefault();
          openStation(item.id);
        }
      })
      .addTo(layer);
    points.push([item.lat, item.lng]);
    entry.row = stationRow(entry, group);
    list.push(entry.row);
  }
  const area = window.L.circle([finder.center.lat, finder.center.lng], { radius: Number(finder.query?.get('radius_m') ?? 30000), className: 'search-area', interactive: false });
  area.addTo(layer);
  if (!finder.fitted) {
    finder.fitted = true;
    map.invalidateSize();
    if (points.length) map.fitBounds(window.L.latLngBounds(points), { padding: [28, 28], maxZoom: 15 });
    else map.fitBounds(area.getBounds());
  }
  $('#stations').replaceChildren(...(list.length ? list : [h('li', { class: 'muted' }, t('app.find.none'))]));
  const shown = finder.stations.size;
  $('#result-count').textContent = t(finder.exact ? 'app.find.count' : 'app.find.count_about', { shown, total: finder.total });
  if (shown < finder.total && finder.page * PER_PAGE === shown) {
    $('#stations').append(h('li', { class: 'list-more' }, h('button', { type: 'button', onclick: (e) => more(e.currentTarget) }, t('app.find.more'))));
  }
}

function openStation(id) {
  location.hash = `#/station/${id}`;
}

function stationRow(entry, group) {
  const { item } = entry;
  return h(
    'li',
    { class: 'station-row', 'data-station': item.id },
    h('span', { class: `dot dot-${group}`, 'aria-hidden': 'true' }),
    h(
      'div',
      {},
      h('a', { href: `#/station/${item.id}`, class: 'station-link' }, item.name),
      h('p', { class: 'muted small' }, item.address),
      h(
        'p',
        { class: 'small' },
        h('span', { class: 'free-count' }, freeText(entry)),
        ' · ',
        distance(item.distance_m),
        item.price ? ` · ${perKwh(money(item.price.total_price))}` : '',
      ),
    ),
  );
}

/** A status change from the live stream: the station's marker and row follow it. */
export function applyStatus(change) {
  const entry = finder.stations.get(change.station_id);
  if (!entry || !entry.statuses.has(change.connector_id)) return;
  entry.statuses.set(change.connector_id, change.status);
  const group = groupOf(entry);
  const label = `${entry.item.name} · ${t(`app.group.${group}`)}`;
  if (entry.marker) {
    entry.marker.setIcon(icon(group));
    const el = entry.marker.getElement();
    if (el) {
      el.title = label;
      el.setAttribute('alt', label);
    }
  }
  if (entry.row) {
    entry.row.querySelector('.dot').className = `dot dot-${group}`;
    entry.row.querySelector('.free-count').textContent = freeText(entry);
  }
}
