// A person signs in with the login form, waits on the spawn-pending page, lands
// in JupyterLab (through ferrohub-proxy), opens a notebook and runs code.
// Params: url, user, password.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const user = params.user;

  // The hub's front door sends a stranger to the login form.
  await page.goto(`${params.url}/hub/`);
  result.loginPath = t.path();
  result.loginTitle = await page.title();
  result.loginHeading = await t.text('h1');
  result.xsrfField = await page.locator('form input[type=hidden][name=_xsrf]').inputValue();
  result.focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  t.step('login form');

  // Typing, then the real submit button: a form POST with the hidden XSRF field.
  const seen = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) seen.push(new URL(frame.url()).pathname);
  });
  await page.locator('#username_input').pressSequentially(user);
  await page.locator('#password_input').pressSequentially(params.password);
  await page.locator('#login_submit').click();

  // The pending page reloads itself until the server is up.
  await page.waitForURL((u) => u.pathname.startsWith('/hub/spawn-pending/') || u.pathname.startsWith(`/user/${user}/`), {
    waitUntil: 'commit',
  });
  if (t.path().startsWith('/hub/spawn-pending/')) {
    result.pendingHeading = await t.text('h1').catch(() => null);
    result.pendingTitle = await page.title().catch(() => null);
  }
  t.step('spawn pending');

  const websockets = [];
  page.on('websocket', (ws) => {
    const entry = { url: ws.url(), received: 0, sent: 0, closed: false };
    websockets.push(entry);
    ws.on('framereceived', () => entry.received++);
    ws.on('framesent', () => entry.sent++);
    ws.on('close', () => (entry.closed = true));
    ws.on('socketerror', (e) => (entry.error = String(e)));
  });
  await page.waitForURL((u) => u.pathname === `/user/${user}/lab`, { timeout: 150_000, waitUntil: 'commit' });
  t.step('lab url');

  // JupyterLab's shell and launcher are really up.
  await page.locator('#jp-main-dock-panel').waitFor({ state: 'visible', timeout: 90_000 });
  await page.locator('.jp-Launcher').first().waitFor({ state: 'visible', timeout: 60_000 });
  result.labTitle = await page.title();
  t.step('lab shell');

  // A new notebook from the launcher; wait until its kernel is idle.
  await page.locator('.jp-LauncherCard[data-category="Notebook"]').first().click();
  const panel = page.locator('.jp-NotebookPanel').first();
  await panel.waitFor({ state: 'visible' });
  // (Before the session exists the toolbar says "No Kernel" and the indicator
  // already reads idle: wait for the kernel's name, then for idle.)
  await panel
    .locator('.jp-Toolbar-kernelName')
    .filter({ hasText: /Python/ })
    .waitFor({ timeout: 90_000 });
  await panel
    .locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
    .waitFor({ state: 'attached', timeout: 90_000 });
  await page
    .locator('#jp-main-statusbar')
    .filter({ hasText: /\| Idle/ })
    .waitFor({ timeout: 90_000 });
  result.kernelName = await t.text('.jp-NotebookPanel .jp-Toolbar-kernelName');
  result.kernelStatus = await t.text('#jp-main-statusbar .jp-StatusBar-TextItem >> text=/Idle/');
  t.step('kernel idle');

  // Type the code into the first cell and run it with Shift+Enter.
  const editor = panel.locator('.jp-Cell').first().locator('.cm-content');
  await editor.click();
  await page.keyboard.type('print(6*7)');
  await page.keyboard.press('Shift+Enter');
  const output = panel.locator('.jp-Cell').first().locator('.jp-OutputArea-output');
  await output.filter({ hasText: '42' }).first().waitFor({ timeout: 60_000 });
  result.output = (await output.first().innerText()).trim();
  result.executionCount = await t.text('.jp-Cell >> nth=0 >> .jp-InputPrompt');
  t.step('ran code');

  result.navigations = seen;
  result.websockets = websockets;
  result.finalPath = t.path();
});
