// The review journey of issue 14 through the web pages, as the people in the seeds do it:
// a partner registers in the portal (after an invalid credit code is pointed out, in both
// languages) and uploads its licence; an admin sees the licence inline and rejects with a
// reason; the partner reads the reason, uploads the missing permit (a PDF) and resubmits; the
// admin sees the PDF inline and approves; the partner sees its API secret once (a reload no
// longer shows it) and its test webhook is acknowledged.
//
//   BASE_URL=http://127.0.0.1:8080 ADMIN_PASSWORD=… node journeys.mjs
//   SCREENSHOT_DIR=../../docs/screenshots …   also writes screenshots in both languages

import { BASE_URL, hidden, launch, licenceImage, newPage, permitPdf, screenshots, scriptErrors, sees, step, switchLanguage } from './lib.mjs';
import { startReceiver } from './webhook-receiver.mjs';

const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD;
if (!ADMIN_PASSWORD) throw new Error('ADMIN_PASSWORD is required');

const COMPANY = '深圳示例充电科技有限公司';
const REASON = '请补充上传经营许可 / please upload the operating permit as well';

const browser = await launch();
const receiver = await startReceiver();
try {
  const partner = await newPage(browser);
  const admin = await newPage(browser);
  const licence = await licenceImage(browser);
  const permit = await permitPdf(browser);
  const reg = partner.locator('#register-form');

  await step('landing page links the portal and the console', async () => {
    await partner.goto(BASE_URL);
    await sees(partner.locator('h1:visible'), 'EV-charging interconnection platform');
    await sees(partner.getByRole('link', { name: 'Partner portal' }));
    await screenshots(partner, 'landing');
  });

  await step('the credit code is checked as it is typed, in both languages', async () => {
    await partner.getByRole('link', { name: 'Partner portal' }).click();
    await sees(partner.locator('h1:visible'), 'Register as a partner');
    const code = reg.getByLabel('Unified social credit code');
    const error = partner.locator('#reg-credit_code-error');
    await code.pressSequentially('91440300MA5FCTXX0A');
    await sees(error, 'Check digit is “A” but should be “J”');
    await switchLanguage(partner);
    await sees(error, '校验码错误：为“A”，应为“J”');
    await sees(partner.locator('label[for="reg-credit_code"]'), '统一社会信用代码');
    await screenshots(partner, 'portal-register-invalid-code');
    await switchLanguage(partner);
    await code.fill('');
    await code.pressSequentially('91440300MA5FCTS');
    await sees(error, 'Character “S” at position 15 is not allowed');
    await code.fill('91440300MA5FCTXX0J');
    await code.dispatchEvent('input');
    await hidden(error);
    await sees(partner.locator('#reg-credit_code-hint'), 'Check digit correct');
  });

  await step('the server refuses a bad email, next to the field', async () => {
    await reg.getByLabel('Company name', { exact: true }).fill(COMPANY);
    await reg.getByLabel('Contact person', { exact: true }).fill('张三');
    await reg.getByLabel('Contact phone', { exact: true }).fill('13800138000');
    await reg.getByLabel('Contact email', { exact: true }).fill('ops-at-example.cn');
    await reg.getByLabel('Role', { exact: true }).selectOption('both');
    await reg.getByLabel('Protocol', { exact: true }).selectOption('rest_api');
    await reg.getByLabel('Callback base URL', { exact: true }).fill(receiver.url);
    await partner.getByRole('button', { name: 'Register', exact: true }).click();
    await sees(partner.locator('#reg-contact_email-error'), 'is not an email address');
    await switchLanguage(partner);
    await sees(partner.locator('#reg-contact_email-error'), '邮箱格式不正确');
    await switchLanguage(partner);
  });

  await step('the partner registers and is shown its portal token once', async () => {
    await reg.getByLabel('Contact email', { exact: true }).fill('ops@example.cn');
    await partner.getByRole('button', { name: 'Register', exact: true }).click();
    await sees(partner.locator('h1:visible'), 'keep your portal token');
    await sees(partner.locator('#new-token code'), 'cbp_');
    await partner.getByRole('button', { name: 'I have stored it' }).click();
    await sees(partner.locator('h1:visible'), COMPANY);
    await sees(partner.locator('#state-badge'), 'In review');
  });

  await step('the partner uploads its business licence', async () => {
    await partner.getByLabel('Document type').selectOption('business_license');
    await partner.getByLabel('File').setInputFiles({ name: 'licence.png', mimeType: 'image/png', buffer: licence });
    await partner.getByRole('button', { name: 'Upload' }).click();
    await sees(partner.locator('#home-notice'), 'Uploaded licence.png');
    await sees(partner.locator('#documents'), 'licence.png');
    await screenshots(partner, 'portal-in-review');
  });

  await step('an admin signs in (a wrong password is refused) and finds the partner in review', async () => {
    await admin.goto(`${BASE_URL}/admin`);
    await sees(admin.locator('h1:visible'), 'Sign in');
    await admin.getByLabel('Username').fill('admin');
    await admin.getByLabel('Password').fill('not the password');
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await sees(admin.locator('#login-form .form-error'));
    await admin.getByLabel('Username').fill('admin');
    await admin.getByLabel('Password').fill(ADMIN_PASSWORD);
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await sees(admin.locator('h1:visible'), 'Partners');
    await sees(admin.locator('.tab[aria-current="page"]'), 'In review 1');
    await screenshots(admin, 'admin-queue');
    await admin.getByRole('link', { name: COMPANY }).click();
    await sees(admin.locator('h1:visible'), COMPANY);
  });

  await step('the admin sees the licence inline and rejects with a reason (required)', async () => {
    const image = admin.locator('figure.document img');
    await sees(image);
    await admin.waitForFunction(() => document.querySelector('figure.document img')?.naturalWidth > 0);
    await admin.getByRole('button', { name: 'Reject' }).click();
    await sees(admin.locator('#reason-reject-error'), 'a reason is required to reject');
    await screenshots(admin, 'admin-partner');
    await admin.getByLabel('Reason (the partner reads it)').fill(REASON);
    await admin.getByRole('button', { name: 'Reject' }).click();
    await sees(admin.locator('.notice-ok:visible'), 'the partner is now “Rejected”');
    await sees(admin.locator('table'), REASON);
  });

  await step('the partner reads the reason, fixes and resubmits', async () => {
    await partner.getByRole('button', { name: 'Refresh' }).click();
    await sees(partner.locator('#state-badge'), 'Rejected');
    await sees(partner.locator('#reason'), REASON);
    await screenshots(partner, 'portal-rejected');
    await partner.getByLabel('Document type').selectOption('operating_permit');
    await partner.getByLabel('File').setInputFiles({ name: 'permit.pdf', mimeType: 'application/pdf', buffer: permit });
    await partner.getByRole('button', { name: 'Upload' }).click();
    await sees(partner.locator('#documents'), 'permit.pdf');
    const phone = partner.locator('#fix-contact_phone');
    await phone.fill('075588886666');
    await partner.getByRole('button', { name: 'Resubmit for review' }).click();
    await sees(partner.locator('#home-notice'), 'Resubmitted');
    await sees(partner.locator('#state-badge'), 'In review');
    await hidden(partner.locator('#reason-box'));
  });

  await step('the admin sees the permit (PDF) inline and approves', async () => {
    await admin.reload();
    await sees(admin.locator('#partner .badge'), 'In review');
    await sees(admin.locator('figure.document').filter({ hasText: 'permit.pdf' }), 'Operating permit');
    await sees(admin.locator('figure.document object[type="application/pdf"]'));
    await admin.getByRole('button', { name: 'Approve' }).click();
    await sees(admin.locator('.notice-ok:visible'), 'the partner is now “Approved”');
  });

  await step('the partner sees its API secret once; after a reload it is gone', async () => {
    await partner.getByRole('button', { name: 'Refresh' }).click();
    await sees(partner.locator('#state-badge'), 'Approved');
    await sees(partner.locator('.once:visible'), 'It is shown only this once');
    await sees(partner.locator('.once code'), 'cbs_');
    await screenshots(partner, 'portal-credentials');
    await partner.reload();
    await sees(partner.locator('#state-badge'), 'Approved');
    await sees(partner.locator('.secret-hidden'), 'The secret was shown once');
    if (await partner.locator('.once:visible').count()) throw new Error('the API secret is shown a second time');
  });

  await step('the partner sends a test webhook, which its receiver acknowledges', async () => {
    await partner.getByRole('button', { name: 'Send a test webhook' }).click();
    await sees(partner.locator('.notice-ok:visible'), 'Acknowledged by the receiver');
    if (!receiver.events.some((e) => e.headers['x-chargebridge-signature'])) throw new Error('the receiver got no signed event');
  });

  await step('the partner rotates its API secret and sees the new one once', async () => {
    await partner.getByRole('button', { name: 'Rotate API secret' }).click();
    await sees(partner.locator('.notice-ok:visible'), 'Rotated');
    await sees(partner.locator('.once code'), 'cbs_');
  });

  await step('the portal is usable at 375 px, labelled and by keyboard', async () => {
    const small = await newPage(browser, 375);
    await small.goto(`${BASE_URL}/portal`);
    await sees(small.locator('h1:visible'), 'Register as a partner');
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (overflow > 0) throw new Error(`the portal is ${overflow} px wider than a 375 px screen`);
    await screenshots(small, 'portal-register-375');
    const unlabelled = await small.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea')].filter((e) => !e.labels?.length && !e.getAttribute('aria-label')).map((e) => e.id || e.name),
    );
    if (unlabelled.length) throw new Error(`form controls without a label: ${unlabelled.join(', ')}`);
    // Keyboard only: from the company name, Tab walks the form in order and Enter submits it.
    await small.locator('#reg-company_name').focus();
    await small.keyboard.press('Tab');
    if ((await small.evaluate(() => document.activeElement.id)) !== 'reg-credit_code') throw new Error('Tab does not lead to the credit code');
    await small.keyboard.press('Enter');
    await sees(small.locator('#reg-company_name-error'), 'is required');
  });

  if (scriptErrors.length) throw new Error(`script errors:\n${scriptErrors.join('\n')}`);
  console.log('all journeys passed');
} finally {
  receiver.close();
  await browser.close();
}
