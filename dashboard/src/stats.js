// Client-side statistics for drawing only; every figure the dashboard states (r, n, p) comes
// from the API.

/** Least-squares line y = a + b·x through the pairs; null with fewer than 2 or no spread in x. */
export function regression(xs, ys) {
  const n = xs.length;
  if (n < 2) return null;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i];
    my += ys[i];
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) * (xs[i] - mx);
    sxy += (xs[i] - mx) * (ys[i] - my);
  }
  if (sxx === 0) return null;
  const b = sxy / sxx;
  return { a: my - b * mx, b };
}

/**
 * The correlation beyond which a coefficient from n pairs differs from zero at the 5 % level
 * (two-sided): r = t / √(n − 2 + t²) with t the 97.5 % quantile of Student's t with n − 2
 * degrees of freedom (Cornish–Fisher expansion, within 1e-3 of the exact quantile for n ≥ 5).
 */
export function criticalR(n) {
  if (!n || n < 4) return null;
  const df = n - 2;
  const z = 1.959963984540054;
  const t =
    z +
    (z ** 3 + z) / (4 * df) +
    (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2) +
    (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3);
  return t / Math.sqrt(df + t * t);
}

/** Days since 1970-01-01 of a `YYYY-MM-DD` date, as seconds (uPlot's time axis). */
export function dateSeconds(date) {
  return Date.parse(`${date}T00:00:00Z`) / 1000;
}
