// Unit tests of the drawing statistics (node --test).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { criticalR, regression } from '../src/stats.js';

test('regression finds the least-squares line', () => {
  const line = regression([1, 2, 3, 4], [3, 5, 7, 9]);
  assert.ok(Math.abs(line.a - 1) < 1e-12 && Math.abs(line.b - 2) < 1e-12);
  assert.equal(regression([1, 1, 1], [1, 2, 3]), null, 'no spread in x');
  assert.equal(regression([1], [1]), null);
});

test('the critical correlation matches Student t quantiles', () => {
  // t(0.975; 8) = 2.306004, t(0.975; 98) = 1.984467 (tables): r = t / sqrt(df + t^2).
  const exact = (t, df) => t / Math.sqrt(df + t * t);
  assert.ok(Math.abs(criticalR(10) - exact(2.306004, 8)) < 2e-3);
  assert.ok(Math.abs(criticalR(100) - exact(1.984467, 98)) < 1e-5);
  assert.equal(criticalR(3), null);
});
