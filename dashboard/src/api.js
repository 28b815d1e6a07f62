// The dashboard reads only the public HTTP API (/api/v1, documented at /api/v1/openapi.json).

/** An API error with the server's reason (problem details). */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

/**
 * GETs `path` (with `params` as the query string) and returns the JSON answer.
 * @param {string} path such as `/markets/series`
 * @param {Record<string, string|number|undefined|null>} [params]
 */
export async function get(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(name, String(value));
  }
  const qs = query.toString();
  const response = await fetch(`/api/v1${path}${qs ? `?${qs}` : ''}`, { headers: { accept: 'application/json' } });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body && body.detail);
  return body;
}

/**
 * Follows the live updates (Server-Sent Events): `onModel({model, version})` for each new model
 * version, `onView({view, version})` for each new view version. The browser reconnects by itself;
 * `onState(connected)` hears of it.
 */
export function live({ onModel, onView, onState }) {
  const source = new EventSource('/api/v1/events');
  source.addEventListener('model', (e) => onModel && onModel(JSON.parse(e.data)));
  source.addEventListener('view', (e) => onView && onView(JSON.parse(e.data)));
  source.onopen = () => onState && onState(true);
  source.onerror = () => onState && onState(false);
  return source;
}
