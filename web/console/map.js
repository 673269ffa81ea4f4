// A map of points with Leaflet (vendored in `vendor/`, loaded on first use): OpenStreetMap
// tiles when they load, and when they cannot (no network, a tile server out of reach), the
// same points on a plain background with the scale, and a notice saying so. Points may be
// clustered (leaflet.markercluster); each marker, and each cluster, is a keyboard-reachable
// button (a marker opens its popup, a cluster zooms in).

import { el } from '/app/dom.js';
import { t } from './i18n.js';

const TILES = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png';
// OpenStreetMap's licence asks for this credit, linked (Leaflet writes it as HTML).
const ATTRIBUTION = '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>';

let loading = null;

function addScript(src) {
  return new Promise((resolve, reject) => {
    const s = el('script', { src });
    s.addEventListener('load', resolve);
    s.addEventListener('error', () => reject(new Error(`${src} did not load`)));
    document.head.append(s);
  });
}

/** Loads Leaflet and markercluster once (scripts and styles from `vendor/`); resolves to `L`. */
export function loadLeaflet() {
  if (!loading) {
    for (const href of ['/console/vendor/leaflet/leaflet.css', '/console/vendor/leaflet.markercluster/MarkerCluster.css', '/console/vendor/leaflet.markercluster/MarkerCluster.Default.css']) {
      document.head.append(el('link', { rel: 'stylesheet', href }));
    }
    loading = addScript('/console/vendor/leaflet/leaflet.js')
      .then(() => addScript('/console/vendor/leaflet.markercluster/leaflet.markercluster.js'))
      .then(() => window.L);
  }
  return loading;
}

/** A cluster's icon, built from elements (its count as text), reachable with the keyboard
 * as the markers are: a button (Leaflet gives it `tabindex` and `role`) named after its
 * count, which Enter or Space opens as a click does (zooms in, or spreads out its markers at
 * the last zoom level), then the focus goes to the map, from which Tab reaches the markers. */
function clusterIcon(L, group, cluster) {
  const n = cluster.getChildCount();
  const size = n < 10 ? 'small' : n < 100 ? 'medium' : 'large';
  const inner = el('div', {}, el('span', { 'aria-hidden': 'true' }, String(n)));
  const icon = L.divIcon({ html: inner, className: `marker-cluster marker-cluster-${size}`, iconSize: L.point(40, 40) });
  const create = icon.createIcon.bind(icon);
  icon.createIcon = (old) => {
    const div = create(old);
    div.setAttribute('aria-label', t('map_cluster', { n }));
    div.onkeydown = (ev) => {
      if (ev.key !== 'Enter' && ev.key !== ' ') return;
      // Handled here, so the browser neither scrolls (Space) nor sends the keypress that
      // markercluster would answer too (Enter).
      ev.preventDefault();
      ev.stopPropagation();
      // As a click on it would: the group turns an event from a cluster into `cluster…`.
      group.fire('click', { layer: cluster, propagatedFrom: cluster, originalEvent: ev });
      group._map?.getContainer().focus();
    };
    return div;
  };
  return icon;
}

/**
 * Draws `points` (`[{lat, lon, title, popup?: () => Node}]`) in `holder`. Options: `cluster`
 * (group nearby points), `zoom` (for a single point). Returns the Leaflet map.
 */
export async function showPointsMap(holder, points, { cluster = true, zoom = 15 } = {}) {
  const L = await loadLeaflet();
  const notice = el('p', { class: 'map-notice', role: 'status', hidden: true }, t('map_no_tiles'));
  holder.before(notice);
  holder.setAttribute('role', 'region');
  holder.setAttribute('aria-label', t('map_label', { n: points.length }));
  const map = L.map(holder, { scrollWheelZoom: false });
  const tiles = L.tileLayer(TILES, { maxZoom: 19, attribution: ATTRIBUTION });
  let failed = false;
  tiles.on('tileerror', () => {
    if (failed) return;
    failed = true;
    holder.classList.add('map-plain');
    notice.hidden = false;
  });
  tiles.addTo(map);
  L.control.scale({ imperial: false }).addTo(map);

  let layer;
  if (cluster) layer = L.markerClusterGroup({ iconCreateFunction: (c) => clusterIcon(L, layer, c), showCoverageOnHover: false });
  else layer = L.featureGroup();
  for (const p of points) {
    const m = L.marker([p.lat, p.lon], { title: p.title || '', alt: p.title || '', keyboard: true });
    if (p.popup) m.bindPopup(() => p.popup());
    layer.addLayer(m);
  }
  layer.addTo(map);
  if (points.length === 1) map.setView([points[0].lat, points[0].lon], zoom);
  else if (points.length) map.fitBounds(L.latLngBounds(points.map((p) => [p.lat, p.lon])).pad(0.1));
  else map.setView([46.6, 2.4], 5); // France, when there is nothing to show
  return map;
}
