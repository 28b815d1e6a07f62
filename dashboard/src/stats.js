// Client-side statistics for drawing only (a fitted line, the 5 % band around zero); every figure
// the dashboard states (r, n, n_eff, p, q) comes from the API.

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
 * (two-sided): the r at which the two-sided p-value of t = r·√((n−2)/(1−r²)) with n − 2 degrees
 * of freedom is 0.05. n may be fractional (an effective number of pairs, `n_eff`); null below 3.
 */
export function criticalR(n) {
  if (!(n >= 3)) return null;
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (twoSidedP(mid, n) > 0.05) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** The two-sided p-value of a correlation r from n pairs: I_{1−r²}((n−2)/2, 1/2). */
export function twoSidedP(r, n) {
  const x = 1 - r * r;
  if (x <= 0) return 0;
  return incompleteBeta(x, (n - 2) / 2, 0.5);
}

/** The regularised incomplete beta function I_x(a, b), by its continued fraction. */
function incompleteBeta(x, a, b) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // The fraction converges fast for x < (a + 1) / (a + b + 2); otherwise use I_x(a, b) = 1 − I_{1−x}(b, a).
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(a * Math.log(x) + b * Math.log(1 - x) - lnBeta(a, b)) / a;
  // Modified Lentz's method on 1 / (1 + d1 / (1 + d2 / (1 + …))).
  const tiny = 1e-300;
  let f = 1;
  let c = 1;
  let d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = Math.floor(i / 2);
    let numerator;
    if (i === 0) numerator = 1;
    else if (i % 2 === 0) numerator = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    else numerator = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + numerator * d;
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    c = 1 + numerator / c;
    if (Math.abs(c) < tiny) c = tiny;
    const step = c * d;
    f *= step;
    if (Math.abs(1 - step) < 1e-15) break;
  }
  return front * (f - 1);
}

function lnBeta(a, b) {
  return lnGamma(a) + lnGamma(b) - lnGamma(a + b);
}

/** ln Γ(x) for x > 0: Lanczos' approximation (g = 7, 9 terms), reflected below 0.5. */
function lnGamma(x) {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const g = 7;
  const coefficients = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  const z = x - 1;
  let sum = coefficients[0];
  for (let i = 1; i < coefficients.length; i++) sum += coefficients[i] / (z + i);
  const t = z + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Days since 1970-01-01 of a `YYYY-MM-DD` date, as seconds (uPlot's time axis). */
export function dateSeconds(date) {
  return Date.parse(`${date}T00:00:00Z`) / 1000;
}
