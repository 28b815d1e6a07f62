// The JavaScript the dashboard ships stays small: under 1.5 MB in all (it is about 100 kB).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const BUDGET_BYTES = 1.5 * 1024 * 1024;
const assets = join(dirname(fileURLToPath(import.meta.url)), '../dist/assets');

test('the shipped JavaScript is within its budget', () => {
  assert.ok(existsSync(assets), 'dashboard/dist is built (scripts/build-dashboard)');
  const scripts = readdirSync(assets).filter((f) => f.endsWith('.js'));
  assert.ok(scripts.length > 0, 'there is a script');
  const total = scripts.reduce((sum, f) => sum + statSync(join(assets, f)).size, 0);
  console.log(`# dashboard JavaScript: ${scripts.length} files, ${total} bytes`);
  assert.ok(total < BUDGET_BYTES, `${total} bytes of JavaScript, over the ${BUDGET_BYTES} budget`);
});
