// The dashboard: three pages behind hash routes, each a module with `mount(main, context)` that
// returns an `unmount()`. Live updates (SSE) are shared: pages subscribe to what they show.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { live } from './api.js';
import * as markets from './markets.js';
import * as mobile from './mobile.js';
import * as pipeline from './pipeline.js';

const pages = { markets, mobile, pipeline };
const main = document.getElementById('main');
const liveBadge = document.getElementById('live');

/** Listeners of the live updates, by kind. */
const listeners = { model: new Set(), view: new Set() };
live({
  onModel: (m) => listeners.model.forEach((f) => f(m)),
  onView: (v) => listeners.view.forEach((f) => f(v)),
  onState: (connected) => {
    liveBadge.textContent = connected ? 'live' : 'reconnecting…';
    liveBadge.dataset.connected = String(connected);
  },
});

/** What a page gets: subscriptions to live updates that end when the page is left. */
function context() {
  const subscriptions = [];
  return {
    on(kind, f) {
      listeners[kind].add(f);
      subscriptions.push(() => listeners[kind].delete(f));
    },
    close() {
      subscriptions.forEach((end) => end());
    },
  };
}

let current = null;
function route() {
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1];
  const page = pages[name] ? name : 'markets';
  if (current) {
    current.unmount && current.unmount();
    current.context.close();
  }
  main.replaceChildren();
  main.dataset.page = page;
  document.querySelectorAll('nav a').forEach((a) => {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  const ctx = context();
  current = { context: ctx, unmount: pages[page].mount(main, ctx) };
}
window.addEventListener('hashchange', route);
route();
