// The dashboard end to end, in headless Chromium: `tributary up` on the real ECDC and DAX files,
// each page opened as a user would, its charts and numbers checked against the API, the country
// changed, events generated while the map is open, a screenshot of each page saved.
//
// Environment (scripts/test sets them): TRIBUTARY_BIN (the binary), TRIBUTARY_TEST_DATA (the data
// sets; default ../shared/data beside the repository), TRIBUTARY_ARTIFACTS (where screenshots go;
// default dashboard/test-artifacts), CHROMIUM (default /usr/bin/chromium). Without the binary,
// the data or Chromium the tests say so and skip, except under CI=true, where they fail.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const bin = process.env.TRIBUTARY_BIN;
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = process.env.TRIBUTARY_ARTIFACTS || join(repo, 'dashboard/test-artifacts');
const ci = process.env.CI === 'true';

function findData() {
  if (process.env.TRIBUTARY_TEST_DATA) return process.env.TRIBUTARY_TEST_DATA;
  for (let dir = repo; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dirname(dir), 'shared/data');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}
const data = findData();
const ecdc = data && join(data, 'covid/ecdc_casedistribution_daily_final_2020-12-14.csv');
const dax = data && join(data, 'markets/DAX_GDAXI_daily_1988-2022_yahoo.csv');

const missing = [
  !bin || !existsSync(bin) ? 'the tributary binary (TRIBUTARY_BIN)' : null,
  !ecdc || !existsSync(ecdc) || !existsSync(dax) ? 'the ECDC and DAX test files (TRIBUTARY_TEST_DATA)' : null,
  !existsSync(browserPath) ? `Chromium (${browserPath})` : null,
].filter(Boolean);
if (missing.length) {
  const message = `dashboard end-to-end tests: missing ${missing.join(', ')}`;
  if (ci) throw new Error(message);
  console.log(`# SKIP ${message}`);
}
const run = missing.length ? test.skip : test;

/** A clean environment for the binary: no TRIBUTARY_* settings of the test run leak into it. */
function childEnv() {
  const env = { ...process.env, RUST_LOG: 'warn' };
  for (const k of Object.keys(env)) if (k.startsWith('TRIBUTARY_')) delete env[k];
  return env;
}

let dir;
let up;
let api;
let browser;
let token;

async function json(path) {
  const response = await fetch(`${api}${path}`);
  assert.equal(response.status, 200, `${path}: ${response.status}`);
  return response.json();
}

async function waitFor(what, check, seconds = 120) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}: ${last}`);
}

/** `tributary generate` into the running platform over HTTP. */
function generate(count, seed) {
  const out = spawnSync(bin, ['--data-dir', dir, 'generate', '--count', String(count), '--seed', String(seed), '--out', `http:${api}`], { env: childEnv(), encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
}

before(async () => {
  if (missing.length) return;
  mkdirSync(artifacts, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'tributary-dashboard-'));
  const sources = `[{url = "file://${ecdc}", dataset = "covid_daily"}, {url = "file://${dax}", dataset = "prices", symbol = "^GDAXI"}]`;
  up = spawn(bin, [
    '--data-dir', dir, '--set', 'api.listen=127.0.0.1:0', '--set', 'mobile.generator_rate=0',
    '--set', 'mobile.init_min_points=500', '--set', `markets.sources=${sources}`, 'up',
  ], { env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  up.stdout.on('data', (chunk) => { out += chunk; });
  const address = await waitFor('up to print its address', () => (out.match(/HTTP API\s+http:\/\/([^/\s]+)\//) || [])[1], 60);
  api = `http://${address}`;
  token = readFileSync(join(dir, 'api-token'), 'utf8').trim();
  // Every view published from the files, and a first model from generated events.
  await waitFor('the views', async () => {
    const views = await json('/api/v1/views');
    const names = new Set(views.filter((v) => v.rows > 0).map((v) => v.view));
    return ['series_catalogue', 'series_daily', 'aligned_daily', 'correlations', 'rolling_correlations', 'reference_prices'].every((v) => names.has(v));
  }, 300);
  generate(20000, 1);
  await waitFor('a model', async () => (await fetch(`${api}/api/v1/mobile/clusters`)).status === 200);
  browser = await chromium.launch({
    executablePath: browserPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (up) {
    up.kill('SIGTERM');
    await new Promise((r) => up.once('exit', r));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function page(width = 1280, height = 800) {
  const p = await browser.newPage({ viewport: { width, height } });
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  p.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  // Nothing may be fetched from elsewhere: every request goes to the platform.
  const foreign = [];
  p.on('request', (r) => { if (!r.url().startsWith(api) && !r.url().startsWith('data:')) foreign.push(r.url()); });
  return { p, errors, foreign };
}

async function settled(p, series) {
  await p.waitForSelector(`main[data-loading="false"][data-series="${series}"]`, { timeout: 60000 });
}

run('Markets × COVID: charts hold the API\'s points and numbers; the country changes', async () => {
  const { p, errors, foreign } = await page();
  await p.goto(`${api}/#/markets?series=DE`);
  await settled(p, 'DE');

  const catalogue = await json('/api/v1/markets/catalogue');
  assert.equal(catalogue.rows.filter((r) => r.kind === 'country').length, 214);
  const de = catalogue.rows.find((r) => r.series === 'DE');
  const options = await p.locator('#series-list option').count();
  assert.equal(options, catalogue.rows.length, 'the picker lists every series');

  const series = await json(`/api/v1/markets/series?series=DE&metric=c7&bucket=day&from=${de.first_date}&to=${de.last_date}`);
  assert.equal(await p.getAttribute('#time-series', 'data-covid-points'), String(series.points.filter((x) => x.value !== null).length));
  const close = await json(`/api/v1/markets/series?metric=close&bucket=day&from=${de.first_date}&to=${de.last_date}`);
  assert.equal(await p.getAttribute('#time-series', 'data-close-points'), String(close.points.length));

  // Changes (log return vs growth) by default, with the adjusted inference and q-values.
  const lag0 = (await json('/api/v1/markets/correlations?series=DE&measure=cases&kind=changes&lag=0')).rows[0];
  assert.ok(lag0.n_eff > 0 && lag0.n_eff <= lag0.n && lag0.pearson_p_adj !== undefined && lag0.pearson_q !== undefined, JSON.stringify(lag0));
  assert.equal(await p.getAttribute('#scatter', 'data-points'), String(lag0.n), 'one point per pair of the coefficient');
  assert.equal(await p.locator('#scatter circle').count(), lag0.n);
  const stats = p.locator('#scatter .stats');
  assert.equal(await stats.getAttribute('data-n'), String(lag0.n));
  assert.equal(Number(await stats.getAttribute('data-pearson')), lag0.pearson);
  assert.equal(Number(await stats.getAttribute('data-spearman')), lag0.spearman);
  assert.match(await stats.innerText(), new RegExp(`n = ${lag0.n}`));
  assert.match(await stats.innerText(), /adjusted p = .* with n_eff = .*, q = /);
  assert.equal(await stats.getAttribute('data-significant'), String(lag0.pearson_q !== null && lag0.pearson_q < 0.05));
  assert.match(await p.locator('#why').innerText(), /correlate in levels whatever the cause/);

  const correlogram = (await json('/api/v1/markets/correlations?series=DE&measure=cases&kind=changes')).rows;
  const defined = correlogram.filter((r) => r.pearson !== null).length;
  assert.equal(await p.getAttribute('#correlogram', 'data-lags'), String(defined));
  assert.equal(await p.locator('#correlogram rect.bar').count(), defined);
  assert.ok(defined >= 50, `most of the 57 lags: ${defined}`);
  const significantLags = correlogram.filter((r) => r.pearson !== null && r.pearson_q !== null && r.pearson_q < 0.05).length;
  assert.equal(await p.getAttribute('#correlogram', 'data-significant'), String(significantLags), 'dark bars are the lags with q < 0.05');
  assert.equal(await p.locator('#correlogram rect.bar.significant').count(), significantLags);

  const rolling = (await json('/api/v1/markets/rolling-correlations?series=DE&measure=cases&kind=changes&window=30')).rows;
  assert.equal(await p.getAttribute('#rolling', 'data-points'), String(rolling.length));
  const strongest = (await json('/api/v1/markets/correlations/strongest?measure=cases&kind=changes&lag=0&by=pearson&limit=20')).rows;
  assert.equal(await p.locator('#strongest tbody tr').count(), strongest.length);
  const significantRows = strongest.filter((r) => r.pearson_q !== null && r.pearson_q < 0.05).length;
  assert.equal(await p.getAttribute('#strongest', 'data-significant'), String(significantRows));
  assert.equal(await p.locator('#strongest tbody tr span.significant').count(), significantRows, 'a ✓ only where q < 0.05');
  assert.equal(await p.locator('#strongest tbody tr').first().locator('td').nth(0).innerText(), strongest[0].series_name.replaceAll('_', ' '));
  await p.screenshot({ path: join(artifacts, 'markets.png'), fullPage: true });

  // Another country, by keyboard: type in the search, arrow into the list.
  await p.focus('#series-search');
  await p.keyboard.type('Italy');
  await p.keyboard.press('ArrowDown');
  await p.keyboard.press('ArrowDown');
  await settled(p, 'IT');
  const it = await json('/api/v1/markets/correlations?series=IT&measure=cases&kind=changes&lag=0');
  assert.equal(await p.getAttribute('#scatter', 'data-points'), String(it.rows[0].n));
  assert.match(await p.locator('h1').innerText(), /Italy/);
  const itSeries = catalogue.rows.find((r) => r.series === 'IT');
  const itPoints = await json(`/api/v1/markets/series?series=IT&metric=c7&bucket=day&from=${itSeries.first_date}&to=${itSeries.last_date}`);
  assert.equal(await p.getAttribute('#time-series', 'data-covid-points'), String(itPoints.points.filter((x) => x.value !== null).length));

  // Weekly buckets of another measure.
  await p.selectOption('#select-bucket', 'week');
  await p.waitForFunction(() => document.querySelector('main').dataset.loading === 'false');
  const weeks = await json(`/api/v1/markets/series?series=IT&metric=c7&bucket=week&from=${itSeries.first_date}&to=${itSeries.last_date}`);
  await p.waitForFunction((n) => document.querySelector('#time-series').dataset.covidPoints === n, String(weeks.points.filter((x) => x.value !== null).length));

  // Phone width: still readable, nothing wider than the screen.
  await p.setViewportSize({ width: 390, height: 844 });
  await p.waitForTimeout(300);
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `page wider than the phone by ${overflow}px`);
  await p.screenshot({ path: join(artifacts, 'markets-phone.png'), fullPage: false });
  assert.deepEqual(errors, []);
  assert.deepEqual(foreign, []);
  await p.close();
});

run('Mobile: the map shows the model and follows new versions without a reload', async () => {
  const { p, errors, foreign } = await page();
  await p.goto(`${api}/#/mobile`);
  await p.waitForSelector('#map[data-version]:not([data-version=""])', { timeout: 60000 });
  const shown = Number(await p.getAttribute('#map', 'data-version'));
  const model = await json('/api/v1/mobile/clusters');
  assert.ok(shown >= 1 && shown <= model.version);
  assert.equal(await p.locator('#map g.centre').count(), model.centres.length);
  assert.equal(await p.locator('#clusters tbody tr').count(), model.centres.length);
  assert.ok(Number(await p.getAttribute('#map', 'data-recent')) > 0, 'recent positions are drawn');
  // The fit over time: every version with a quality, the newest one's silhouette as the API has it.
  await p.waitForSelector('#quality-latest', { timeout: 30000 });
  const qualityVersion = Number(await p.getAttribute('#quality-latest', 'data-version'));
  const [withQuality] = await json(`/api/v1/mobile/clusters/history?from_version=${qualityVersion}&to_version=${qualityVersion}&limit=1`);
  assert.ok(withQuality.silhouette > 0 && withQuality.silhouette <= 1, `silhouette of generated clusters: ${withQuality.silhouette}`);
  assert.equal(Number(await p.getAttribute('#quality-latest', 'data-silhouette')), withQuality.silhouette);
  assert.ok(Number(await p.getAttribute('#quality', 'data-versions')) >= 1);
  // The suggested k, as the API computes it over the newest events, beside the model's k.
  await p.waitForSelector('#suggested-k', { timeout: 60000 });
  const suggested = await json('/api/v1/mobile/suggest-k?from=2&to=12');
  assert.equal(await p.getAttribute('#suggest-k', 'data-current'), String(model.centres.length));
  assert.equal(suggested.candidates.length, 11);
  assert.ok(suggested.suggested_k >= 2 && suggested.suggested_k <= 12, JSON.stringify(suggested));
  assert.match(await p.locator('#suggested-k').innerText(), /Suggested k = \d+ \(the model runs with k = \d+\): the smallest k whose silhouette is within 0\.01 of the highest/);
  await p.evaluate(() => { window.notReloaded = true; });

  // New events while the page is open: the map moves on by itself.
  generate(20000, 2);
  const newest = await waitFor('a newer model', async () => {
    const m = await json('/api/v1/mobile/clusters');
    return m.version > shown ? m.version : null;
  });
  await p.waitForFunction((v) => Number(document.querySelector('#map').dataset.version) >= v, newest, { timeout: 30000 });
  assert.equal(await p.evaluate(() => window.notReloaded), true, 'no reload');
  const latest = await json('/api/v1/mobile/clusters');
  await p.waitForFunction((v) => Number(document.querySelector('#map').dataset.version) === v, latest.version, { timeout: 30000 });
  const first = latest.centres[0];
  const row = await p.locator('#clusters tbody tr').first().locator('td').allInnerTexts();
  assert.equal(row[1], first.lat.toLocaleString('en-GB', { maximumFractionDigits: 4 }));
  assert.equal(row[2], first.lon.toLocaleString('en-GB', { maximumFractionDigits: 4 }));
  // Live counts per region: the 20,000 events just generated fell in the last minute.
  const lastMinute = await p.locator('#clusters tbody tr td:nth-child(7)').allInnerTexts();
  const inLastMinute = lastMinute.reduce((sum, t) => sum + Number(t.replace(/,/g, '')), 0);
  assert.ok(inLastMinute > 0, `events in the last minute: ${lastMinute}`);

  // The slider goes back through the versions.
  await p.focus('#version');
  await p.keyboard.press('Home');
  const oldest = Number(await p.getAttribute('#version', 'min'));
  await p.waitForFunction((v) => document.querySelector('#map').dataset.version === String(v), oldest, { timeout: 30000 });
  assert.equal(await p.isChecked('#follow'), false, 'an old version stops following live');
  await p.screenshot({ path: join(artifacts, 'mobile.png'), fullPage: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(foreign, []);
  await p.close();
});

run('Pipeline: sources, topics, consumers and dead letters as the API has them', async () => {
  // A bad record, so that there is a dead letter to show.
  const bad = await fetch(`${api}/api/v1/topics/mobile_data/records`, {
    method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"deviceId": 7}\n',
  });
  assert.equal(bad.status, 200);
  await waitFor('the dead letter in the store', async () => (await json('/api/v1/dead-letters')).total > 0, 30);
  const { p, errors, foreign } = await page();
  await p.goto(`${api}/#/pipeline`);
  await p.waitForSelector('#sources[data-count]');
  const status = await json('/api/v1/pipeline');
  assert.ok(status.sources.length >= 3, 'two pulls and the HTTP ingest');
  await p.waitForFunction((n) => Number(document.querySelector('#sources').dataset.count) >= n, status.sources.length);
  const text = await p.locator('#sources').innerText();
  for (const s of status.sources) assert.ok(text.includes(s.source), `${s.source} shown`);
  assert.equal(await p.locator('#topics tbody tr').count(), status.topics.length);
  assert.ok(await p.locator('#topics svg.spark').count() === status.topics.length, 'a sparkline per topic');
  await p.waitForSelector('#dead-letters[data-shown]');
  const letters = await json('/api/v1/dead-letters?limit=20');
  assert.equal(await p.getAttribute('#dead-letters', 'data-shown'), String(letters.dead_letters.length));
  assert.ok((await p.locator('#dead-letters').innerText()).includes(letters.dead_letters[0].reason));
  await p.screenshot({ path: join(artifacts, 'pipeline.png'), fullPage: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(foreign, []);
  await p.close();
});
