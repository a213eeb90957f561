// Sign in and run code in JupyterLab with the hub at any public URL: HTTPS
// from ferrohub-proxy itself, or nginx/Apache in front under a base path.
// Params: url (public URL including the base path, no trailing slash), base
// (the base path, '' or e.g. '/jupyter'), user, password, ignoreHTTPSErrors.
// Reports the paths it went through, the protocol of the JupyterLab page
// (h2 or http/1.1), the cookies the browser holds, the kernel websockets and
// the output of the code run.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const { user, base } = params;

  await page.goto(`${params.url}/hub/`);
  result.loginPath = t.path();
  await page.locator('#username_input').pressSequentially(user);
  await page.locator('#password_input').pressSequentially(params.password);
  const seen = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) seen.push(new URL(frame.url()).pathname);
  });
  const websockets = [];
  page.on('websocket', (ws) => {
    const entry = { url: ws.url(), received: 0, sent: 0 };
    websockets.push(entry);
    ws.on('framereceived', () => entry.received++);
    ws.on('framesent', () => entry.sent++);
    ws.on('socketerror', (e) => (entry.error = String(e)));
  });
  await page.locator('#login_submit').click();
  t.step('signed in');

  await page.waitForURL((u) => u.pathname === `${base}/user/${user}/lab`, {
    timeout: 150_000,
    waitUntil: 'commit',
  });
  await page.locator('#jp-main-dock-panel').waitFor({ state: 'visible', timeout: 90_000 });
  await page.locator('.jp-Launcher').first().waitFor({ state: 'visible', timeout: 60_000 });
  result.labTitle = await page.title();
  result.labProtocol = await page.evaluate(
    () => performance.getEntriesByType('navigation')[0].nextHopProtocol,
  );
  t.step('lab shell');

  await page.locator('.jp-LauncherCard[data-category="Notebook"]').first().click();
  const panel = page.locator('.jp-NotebookPanel').first();
  await panel.waitFor({ state: 'visible' });
  await panel
    .locator('.jp-Toolbar-kernelName')
    .filter({ hasText: /Python/ })
    .waitFor({ timeout: 90_000 });
  await page
    .locator('#jp-main-statusbar')
    .filter({ hasText: /\| Idle/ })
    .waitFor({ timeout: 90_000 });
  t.step('kernel idle');

  const editor = panel.locator('.jp-Cell').first().locator('.cm-content');
  await editor.click();
  await page.keyboard.type('import os; print(6*7, os.environ["JUPYTERHUB_USER"])');
  await page.keyboard.press('Shift+Enter');
  const output = panel.locator('.jp-Cell').first().locator('.jp-OutputArea-output');
  await output.filter({ hasText: '42' }).first().waitFor({ timeout: 60_000 });
  result.output = (await output.first().innerText()).trim();
  t.step('ran code');

  result.navigations = seen;
  result.websockets = websockets;
  result.cookies = (await t.context.cookies()).map((c) => ({
    name: c.name,
    path: c.path,
    domain: c.domain,
    secure: c.secure,
    httpOnly: c.httpOnly,
  }));
  result.finalPath = t.path();
});
