// The driver journey of issue 14 (the app at /app) against a simulated third-party operator
// (flow A): the operator is registered, approved and its catalog synced through the portal and
// admin APIs, as demo.rs does; then a driver signs up in the app, finds the operator's station on
// the map, starts charging, watches the session, stops, tops up the wallet on the payment
// gateway's page and pays. Along the way: a second driver sees the connector turn busy without
// reloading (status stream) and is refused a start on it, next to that connector; a wrong
// password is refused at the login form; the app works at 375 px; nothing is fetched from
// elsewhere and the Content-Security-Policy is never violated.
//
//   BASE_URL=http://127.0.0.1:8080 ADMIN_PASSWORD=… SERVER_BIN=target/debug/chargebridge node driver.mjs
//   SCREENSHOT_DIR=../../docs/screenshots …   also writes screenshots in both languages

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { checkCreditCode } from '../assets/credit-code.js';
import { BASE_URL, hidden, launch, newPage, screenshots, scriptErrors, sees, step, switchLanguage } from './lib.mjs';

const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD;
const BIN = process.env.SERVER_BIN;
if (!ADMIN_PASSWORD || !BIN) throw new Error('ADMIN_PASSWORD and SERVER_BIN are required');

const PHONE = '13912345678';
const PASSWORD = 'driver-pass-1';

async function call(method, path, { token, json } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${BASE_URL}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** A valid unified social credit code (its characters 9 to 17 are the OperatorID). */
function creditCode(body) {
  for (const c of '0123456789ABCDEFGHJKLMNPQRTUWXY') if (checkCreditCode(body + c).ok) return body + c;
  throw new Error(`no check character for ${body}`);
}

/** Starts `chargebridge sim cpo` and answers its endpoint and secrets (the JSON line it prints). */
async function startOperator(operatorId, credentialsFile) {
  const child = spawn(
    BIN,
    [
      'sim', 'cpo', '--bind', '127.0.0.1:0', '--operator-id', operatorId,
      '--stations', '3', '--piles-per-station', '1', '--connectors-per-pile', '2',
      '--platform-url', BASE_URL, '--platform-credentials', credentialsFile,
      // Statuses change only with sessions; piles answer fast and report every second.
      '--status-change-ms', '0', '--start-delay-ms', '300', '--charge-status-secs', '1', '--report-every', '60',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CHARGEBRIDGE_LOG__LEVEL: 'warn', RUST_LOG: 'warn' } },
  );
  const lines = createInterface({ input: child.stdout });
  const peer = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`sim cpo exited with ${code}`)));
    lines.on('line', (line) => {
      try {
        resolve(JSON.parse(line));
      } catch {
        // Not the registration line.
      }
    });
  });
  return { child, peer };
}

const browser = await launch();
const scratch = mkdtempSync(join(tmpdir(), 'driver-journey-'));
let operator = null;
const outside = []; // requests to anywhere but the platform
try {
  let partnerId;
  let stationName;

  await step('a simulated T/CEC 102 operator is registered, approved and its catalog synced (portal and admin APIs)', async () => {
    const code = creditCode('91440300MA5DRC017');
    const registered = await call('POST', '/api/portal/v1/partners', {
      json: {
        company_name: '模拟充电运营有限公司 (Simulated CPO Ltd.)', credit_code: code, contact_name: '王工', contact_phone: '13800138001',
        contact_email: 'ops@sim-cpo.example', roles: 'operator', protocol: 'cec102', callback_base_url: 'http://127.0.0.1:9/evcs',
      },
    });
    partnerId = registered.partner.id;
    const portal = registered.portal_token;
    const admin = (await call('POST', '/api/admin/v1/login', { json: { username: 'admin', password: ADMIN_PASSWORD } })).token;
    await call('POST', `/api/admin/v1/partners/${partnerId}/approve`, { token: admin });
    const credentials = await call('GET', '/api/portal/v1/partners/me/credentials', { token: portal });
    const file = join(scratch, 'platform-credentials.json');
    writeFileSync(file, JSON.stringify(credentials));
    operator = await startOperator(code.slice(8, 17), file);
    const { operator_id: _, ...peer } = operator.peer;
    await call('PUT', '/api/portal/v1/partners/me/cec-peer', { token: portal, json: peer });
    const report = await call('POST', `/api/admin/v1/partners/${partnerId}/sync`, { token: admin });
    if (!(report.stations >= 3)) throw new Error(`the sync brought ${JSON.stringify(report)}`);
  });

  const driver = await newPage(browser);
  const watcher = await newPage(browser);
  for (const page of [driver, watcher]) {
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    page.on('request', (r) => {
      const url = r.url();
      if (!url.startsWith(BASE_URL) && !url.startsWith('data:') && !url.startsWith('blob:')) outside.push(url);
    });
  }

  await step('the landing page links the driver app; a driver signs up', async () => {
    await driver.goto(BASE_URL);
    await driver.getByRole('link', { name: 'Driver app' }).click();
    await sees(driver.locator('h1:visible'), 'Charge with chargebridge');
    const form = driver.locator('#signup-form');
    await form.getByLabel('Mobile number').fill('1391234');
    await form.getByLabel('Password').fill(PASSWORD);
    await form.getByRole('button', { name: 'Create account' }).click();
    await sees(driver.locator('#signup-phone-error'), '11-digit');
    await form.getByLabel('Mobile number').fill(PHONE);
    await form.getByRole('button', { name: 'Create account' }).click();
    await sees(driver.locator('h1:visible'), 'Find a charger');
  });

  await step("the driver finds the operator's stations on the map, coloured by live status, and in the list", async () => {
    await driver.getByLabel('Within').selectOption('50000');
    await driver.getByLabel('Free now').check();
    await driver.getByRole('button', { name: 'Search', exact: true }).click();
    await sees(driver.locator('#result-count'), 'of 3 stations');
    await sees(driver.locator('.station-marker.marker-free'));
    if ((await driver.locator('.station-marker').count()) !== 3) throw new Error('expected 3 markers on the map');
    await sees(driver.locator('#stations'), '2 of 2 free');
    // No tiles configured: the map is drawn on a plain background, nothing fetched for it.
    await sees(driver.locator('#map.map-plain'));
    if (await driver.locator('.leaflet-tile').count()) throw new Error('tiles drawn although none are configured');
    await screenshots(driver, 'app-map');
    const marker = driver.locator('.station-marker.marker-free').first();
    stationName = (await marker.getAttribute('title')).split(' · ')[0];
    // Keyboard: the marker takes focus and Enter opens the station.
    await marker.focus();
    await driver.keyboard.press('Enter');
    await sees(driver.locator('h1:visible'), stationName);
  });

  let stationUrl;
  await step('the station shows its connectors live and the price now and through the day', async () => {
    await sees(driver.locator('#connectors .connector').first(), 'Free');
    await sees(driver.locator('#price-now'), '/kWh');
    await sees(driver.locator('#price-day tbody tr.current'), 'now');
    stationUrl = driver.url();
    // A second driver (signed up through the API) watches the same station.
    await call('POST', '/api/app/v1/users', { json: { phone: '13900000001', password: PASSWORD } });
    await watcher.goto(`${BASE_URL}/app`);
    await watcher.locator('#login-phone').fill('13900000001');
    await watcher.locator('#login-password').fill(PASSWORD);
    await watcher.getByRole('button', { name: 'Log in', exact: true }).click();
    await sees(watcher.locator('h1:visible'), 'Find a charger');
    await watcher.goto(stationUrl);
    await sees(watcher.locator('h1:visible'), stationName);
    await sees(watcher.locator('.is-live #live'));
  });

  await step('the driver starts charging and sees the live session: energy and cost so far', async () => {
    const first = driver.locator('#connectors .connector').first();
    await first.getByRole('button', { name: 'Start charging' }).click();
    await sees(driver.locator('#session-state'), 'Charging');
    await driver.waitForFunction(() => /[1-9]/.test(document.querySelector('#session-energy')?.textContent ?? ''), null, { timeout: 15_000 });
    await sees(driver.locator('#session-amount-label'), 'Cost so far');
    await sees(driver.locator('#session-amount'), '¥');
    await sees(driver.getByRole('button', { name: 'Stop charging' }));
  });

  await step('the other driver sees the connector turn busy without a reload, and is refused a start on it, next to it', async () => {
    const connector = watcher.locator('#connectors .connector').first();
    await sees(connector.locator('.status'), 'Charging');
    await connector.getByRole('button', { name: 'Start charging' }).click();
    await sees(connector.locator('.field-error'), 'not free; choose another one');
    await switchLanguage(watcher);
    await sees(connector.locator('.field-error'), '请选择空闲的充电枪');
    await switchLanguage(watcher);
  });

  await step("the other driver reserves the station's last free connector and cancels; an open map recolours its marker live", async () => {
    const mapper = await newPage(browser);
    await mapper.goto(`${BASE_URL}/app`);
    await mapper.locator('#login-phone').fill('13900000001');
    await mapper.locator('#login-password').fill(PASSWORD);
    await mapper.getByRole('button', { name: 'Log in', exact: true }).click();
    await mapper.getByLabel('Within').selectOption('50000');
    await mapper.getByRole('button', { name: 'Search', exact: true }).click();
    const marker = mapper.locator(`.station-marker[title^="${stationName} ·"]`);
    await sees(mapper.locator('.station-marker.marker-free'));
    await sees(marker);
    if (!(await marker.getAttribute('class')).includes('marker-free')) throw new Error('one connector is free: the marker should be green');
    const second = watcher.locator('#connectors .connector').nth(1);
    await sees(second.locator('.status'), 'Free');
    await second.getByRole('button', { name: 'Reserve 15 min' }).click();
    await sees(watcher.locator('#session-state'), 'Reserved');
    await sees(watcher.locator('#session-times'), 'held until');
    await mapper.locator(`.station-marker.marker-busy[title^="${stationName} ·"]`).waitFor();
    await watcher.getByRole('button', { name: 'Cancel reservation' }).click();
    await sees(watcher.locator('#session-state'), 'Cancelled');
    await hidden(watcher.getByRole('button', { name: 'Cancel reservation' }));
    await mapper.locator(`.station-marker.marker-free[title^="${stationName} ·"]`).waitFor();
    await mapper.context().close();
  });

  await step('energy keeps counting; screenshots of the session', async () => {
    const before = await driver.locator('#session-energy').innerText();
    await driver.waitForFunction((b) => document.querySelector('#session-energy').textContent !== b, before, { timeout: 10_000 });
    await screenshots(driver, 'app-session');
  });

  await step('the driver stops; the bill is shown; the empty wallet is topped up on the gateway page', async () => {
    await driver.getByRole('button', { name: 'Stop charging' }).click();
    await sees(driver.locator('#session-state'), 'To pay');
    await sees(driver.locator('#session-amount-label'), 'Amount');
    await sees(driver.locator('#pay-card'), 'does not cover this bill');
    const [gateway] = await Promise.all([driver.context().waitForEvent('page'), driver.getByRole('button', { name: 'Top up' }).click()]);
    await gateway.waitForLoadState();
    await sees(gateway.locator('h1'), 'Sandbox checkout');
    await gateway.getByRole('button', { name: /Pay/ }).click();
    await sees(gateway.locator('body'), 'Pay');
    await gateway.close();
    await sees(driver.locator('#app-notice'), 'Wallet topped up');
  });

  await step('the driver pays from the wallet; the order history shows it paid', async () => {
    await driver.getByRole('button', { name: 'Pay from wallet' }).click();
    await sees(driver.locator('#session-state'), 'Paid');
    await sees(driver.locator('#app-notice'), 'Paid ¥');
    await hidden(driver.locator('#pay-card'));
    await driver.getByRole('link', { name: 'Orders & wallet' }).click();
    await sees(driver.locator('h1:visible'), 'Orders & wallet');
    await sees(driver.locator('#orders .order-row').first(), stationName);
    await sees(driver.locator('#orders .order-row').first(), 'Paid');
  });

  await step('a wrong password is refused at the login form, in both languages', async () => {
    const page = await newPage(browser);
    await page.goto(`${BASE_URL}/app`);
    await page.locator('#login-phone').fill(PHONE);
    await page.locator('#login-password').fill('not-my-password');
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    const error = page.locator('#login-form .form-error');
    await sees(error);
    const en = await error.innerText();
    await switchLanguage(page);
    await page.waitForFunction((text) => document.querySelector('#login-form .form-error').textContent !== text, en);
    await switchLanguage(page);
    await page.context().close();
  });

  await step('the app is usable at 375 px, labelled and by keyboard', async () => {
    const small = await newPage(browser, 375);
    await small.goto(`${BASE_URL}/app`);
    await small.locator('#login-phone').fill(PHONE);
    await small.locator('#login-password').fill(PASSWORD);
    await small.keyboard.press('Enter');
    await sees(small.locator('h1:visible'), 'Find a charger');
    await small.getByLabel('Within').selectOption('50000');
    await small.getByRole('button', { name: 'Search', exact: true }).click();
    await sees(small.locator('.station-marker'));
    for (const view of ['map', 'list']) {
      if (view === 'list') {
        await small.getByRole('button', { name: 'List' }).click();
        await sees(small.locator('#stations .station-link'));
      }
      const overflow = await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      if (overflow > 0) throw new Error(`the ${view} view is ${overflow} px wider than a 375 px screen`);
    }
    const unlabelled = await small.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea')].filter((e) => !e.labels?.length && !e.getAttribute('aria-label')).map((e) => e.id || e.name),
    );
    if (unlabelled.length) throw new Error(`form controls without a label: ${unlabelled.join(', ')}`);
    await small.locator('#stations .station-link').first().focus();
    await small.keyboard.press('Enter');
    await sees(small.locator('h1:visible'), '');
    await sees(small.locator('#connectors .connector'));
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (overflow > 0) throw new Error(`the station view is ${overflow} px wider than a 375 px screen`);
    await screenshots(small, 'app-station-375');
  });

  for (const page of [driver, watcher]) {
    const violations = await page.evaluate(() => window.__csp);
    if (violations.length) throw new Error(`Content-Security-Policy violations: ${violations.join(', ')}`);
  }
  if (outside.length) throw new Error(`requests outside the platform: ${outside.join(', ')}`);
  if (scriptErrors.length) throw new Error(`script errors:\n${scriptErrors.join('\n')}`);
  console.log('driver journey passed');
} finally {
  operator?.child.kill();
  await browser.close();
  rmSync(scratch, { recursive: true, force: true });
}
