// The token page: a signed-in user opens it from the header, requests a token
// with a note and an expiry, sees it once, and revokes it again.
// Params: url, user, password.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  await page.goto(`${params.url}/hub/home`);
  await page.locator('#username_input').fill(params.user);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');

  await page.getByRole('link', { name: 'Token' }).click();
  await page.waitForURL((u) => u.pathname === '/hub/token');
  result.before = {
    heading: await t.text('h1'),
    empty: await t.text('#no-tokens'),
    expiryChoices: await page.locator('#token-expires option').allTextContents(),
  };
  await t.audit('token');

  await page.locator('#token-note').fill('nightly backup script');
  await page.locator('#token-expires').selectOption({ label: '1 day' });
  await page.locator('#request').click();
  await page.waitForSelector('#new-token');
  result.created = {
    token: (await t.text('#new-token')).trim(),
    notice: await t.text('#new-token-box p'),
    rows: await page.locator('#api-tokens tbody tr').count(),
    firstRow: await page.locator('#api-tokens tbody tr').first().innerText(),
  };
  await t.audit('token-created');

  // Reloading the page does not show the token again.
  await page.goto(`${params.url}/hub/token`);
  result.reloaded = {
    shown: await page.locator('#new-token').count(),
    rows: await page.locator('#api-tokens tbody tr').count(),
  };

  await page.getByRole('button', { name: 'Revoke' }).click();
  await page.waitForSelector('#no-tokens');
  result.afterRevoke = {
    rows: await page.locator('#api-tokens tbody tr').count(),
    path: t.path(),
  };
  t.step('token revoked');
});
