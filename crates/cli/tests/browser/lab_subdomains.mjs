// JupyterHub.subdomain_host: sign in at the hub's host, reach JupyterLab on
// the user's own host and run code there; then report which cookies the
// browser holds and sends where, and (with `otherServer`) what happens when
// this user opens another user's server on that user's host.
// Params: url (the hub's origin, e.g. http://hub.test:8000), serverUrl (the
// user's server, e.g. http://alice.hub.test:8000/user/alice/), user,
// password, otherServer (optional: another user's lab URL), chromiumArgs
// (host-resolver rules), allowedOrigins (the users' origins).
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const { user } = params;
  const websockets = [];
  page.on('websocket', (ws) => {
    const entry = { url: ws.url(), received: 0 };
    websockets.push(entry);
    ws.on('framereceived', () => entry.received++);
    ws.on('socketerror', (e) => (entry.error = String(e)));
  });

  await page.goto(`${params.url}/hub/login`);
  result.loginOrigin = new URL(page.url()).origin;
  await page.locator('#username_input').pressSequentially(user);
  await page.locator('#password_input').pressSequentially(params.password);
  await page.locator('#login_submit').click();
  t.step('signed in');

  const lab = new URL('lab', params.serverUrl).href;
  await page.waitForURL((u) => u.href.startsWith(lab), { timeout: 150_000, waitUntil: 'commit' });
  result.labUrl = page.url();
  await page.locator('#jp-main-dock-panel').waitFor({ state: 'visible', timeout: 90_000 });
  await page.locator('.jp-Launcher').first().waitFor({ state: 'visible', timeout: 60_000 });
  result.labTitle = await page.title();
  t.step('lab shell');

  await page.locator('.jp-LauncherCard[data-category="Notebook"]').first().click();
  const panel = page.locator('.jp-NotebookPanel').first();
  await panel.waitFor({ state: 'visible' });
  await page
    .locator('#jp-main-statusbar')
    .filter({ hasText: /\| Idle/ })
    .waitFor({ timeout: 90_000 });
  const editor = panel.locator('.jp-Cell').first().locator('.cm-content');
  await editor.click();
  await page.keyboard.type('import os; print(6*7, os.environ["JUPYTERHUB_USER"])');
  await page.keyboard.press('Shift+Enter');
  const output = panel.locator('.jp-Cell').first().locator('.jp-OutputArea-output');
  await output.filter({ hasText: '42' }).first().waitFor({ timeout: 60_000 });
  result.output = (await output.first().innerText()).trim();
  result.websockets = websockets;
  t.step('ran code');

  // Chromium's cookie store: everything it holds, and what it would send
  // to the hub, to this user's server and to the other user's.
  const shape = (c) => ({ name: c.name, domain: c.domain, path: c.path });
  result.cookies = (await t.context.cookies()).map(shape);
  result.sentToHub = (await t.context.cookies([`${params.url}/hub/home`])).map(shape);
  result.sentToOwnServer = (await t.context.cookies([lab])).map(shape);
  if (params.otherServer) {
    result.sentToOtherServer = (await t.context.cookies([params.otherServer])).map(shape);
    // Opening the other user's server: its OAuth sends the browser to the
    // hub, which refuses this user.
    const answer = await page.goto(params.otherServer);
    result.otherStatus = answer.status();
    result.otherLandedOn = page.url();
    result.otherPageText = (await page.locator('body').innerText()).slice(0, 500);
    await t.expectConsoleError(/status of 403/);
    t.step('other server refused');
  }
});
