// Unit tests of the drawing statistics (node --test).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { criticalR, regression, twoSidedP } from '../src/stats.js';

test('regression finds the least-squares line', () => {
  const line = regression([1, 2, 3, 4], [3, 5, 7, 9]);
  assert.ok(Math.abs(line.a - 1) < 1e-12 && Math.abs(line.b - 2) < 1e-12);
  assert.equal(regression([1, 1, 1], [1, 2, 3]), null, 'no spread in x');
  assert.equal(regression([1], [1]), null);
});

test('the critical correlation matches SciPy, for fractional numbers of pairs too', () => {
  // r = t / sqrt(df + t^2) with t = scipy.stats.t.ppf(0.975, n - 2) (SciPy 1.17.1).
  const scipy = [[3, 0.996917333733128], [3.5, 0.979904306303129], [5.2, 0.8642228029480604],
    [10, 0.6318968647198338], [100, 0.19655119559322565], [188, 0.14316267951782596]];
  for (const [n, r] of scipy) assert.ok(Math.abs(criticalR(n) - r) < 1e-9, `n = ${n}: ${criticalR(n)} vs ${r}`);
  assert.equal(criticalR(2.9), null);
  assert.equal(criticalR(undefined), null);
});

test('two-sided p-values match SciPy', () => {
  // scipy.stats.pearsonr's p for r = 0.5 from 3 pairs is 2/3; 0.9 from 5 pairs: 0.0373.
  assert.ok(Math.abs(twoSidedP(0.5, 3) - 0.6666666666666666) < 1e-12);
  assert.ok(Math.abs(twoSidedP(0.9, 5) - 0.03738607346849863) < 1e-12);
  assert.equal(twoSidedP(1, 10), 0);
});
