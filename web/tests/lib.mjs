// Helpers for the journeys: the browser (Debian's chromium, never a downloaded one), waiting for
// what a user would see, and screenshots in both languages.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BASE_URL = process.env.BASE_URL ?? 'http://127.0.0.1:8080';
const SHOTS = process.env.SCREENSHOT_DIR || null;
const TIMEOUT = 10_000;

/** Uncaught script errors on any page; the run fails if there are any. */
export const scriptErrors = [];

export async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
}

/** A fresh browser profile (its own localStorage) at a given width, English to start with. */
export async function newPage(browser, width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, locale: 'en-US' });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  page.on('pageerror', (error) => scriptErrors.push(`${page.url()}: ${error.message}`));
  // Refused requests (4xx the journeys provoke) are logged by the browser too: only the others are shown.
  page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && console.error(`  [browser] ${m.text()}`));
  return page;
}

let stepNo = 0;
export async function step(name, work) {
  stepNo += 1;
  const started = Date.now();
  await work();
  console.log(`ok ${stepNo} - ${name} (${Date.now() - started} ms)`);
}

/** Waits until one of the visible elements `all` matches shows `text` (hidden views are ignored). */
export async function sees(all, text) {
  const locator = all.filter({ visible: true });
  await locator.first().waitFor({ state: 'visible' });
  if (text === undefined) return;
  const deadline = Date.now() + TIMEOUT;
  let got = '';
  while (Date.now() < deadline) {
    got = (await locator.first().innerText()).replace(/\s+/g, ' ');
    if (got.includes(text)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`expected to see "${text}", the page shows "${got}"`);
}

export async function hidden(locator) {
  await locator.first().waitFor({ state: 'hidden' });
}

/** The page's language switch. */
export async function switchLanguage(page) {
  await page.locator('#lang').click();
}

/** With SCREENSHOT_DIR set: `<name>.en.png` and `<name>.zh-CN.png`, leaving the page in the language it was in. */
export async function screenshots(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  const current = await page.evaluate(() => document.documentElement.lang);
  const langs = current === 'en' ? ['en', 'zh-CN'] : ['zh-CN', 'en'];
  for (const lang of langs) {
    if ((await page.evaluate(() => document.documentElement.lang)) !== lang) await switchLanguage(page);
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(SHOTS, `${name}.${lang}.png`), fullPage: true });
  }
  await switchLanguage(page);
}

/** A small PNG made by the browser: the "scanned licence" a partner uploads. */
export async function licenceImage(browser) {
  const page = await browser.newPage({ viewport: { width: 420, height: 280 } });
  await page.setContent(`<body style="margin:0;font:16px sans-serif;background:#fdfaf2">
    <div style="margin:16px;padding:16px;border:3px double #b22;height:210px">
      <h2 style="text-align:center;color:#b22;margin:0 0 12px">营业执照 Business licence</h2>
      <p>名称：深圳示例充电科技有限公司</p><p>统一社会信用代码：91440300MA5FCTXX0J</p><p>(test document)</p></div></body>`);
  const png = await page.screenshot();
  await page.close();
  return png;
}

/** A one-page PDF printed by the browser: the "operating permit" a partner uploads. */
export async function permitPdf(browser) {
  const page = await browser.newPage();
  await page.setContent('<h1>经营许可 Operating permit</h1><p>深圳示例充电科技有限公司 (test document)</p>');
  const pdf = await page.pdf({ format: 'A5' });
  await page.close();
  return pdf;
}
