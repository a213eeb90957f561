// The home page's buttons: a signed-in person starts their server with "Start
// my server", comes back to /hub/home and sees it running, stops it with
// "Stop my server" and sees the page say so.
// Params: url, user, password.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const user = params.user;
  const home = `${params.url}/hub/home`;

  // /hub/home asks a stranger to sign in first, then comes back.
  await page.goto(home);
  result.loginPath = t.path();
  result.loginNext = new URL(page.url()).searchParams.get('next');
  await page.locator('#username_input').fill(user);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/home');
  t.step('signed in');

  result.stopped = {
    title: await page.title(),
    heading: await t.text('h1'),
    navUser: await t.text('header nav span'),
    text: await t.text('main'),
    startButton: await t.text('button#start'),
  };
  await t.audit('home-stopped');

  // Start: a form POST with the hidden XSRF field, then the pending page,
  // which moves on to the server once it is up.
  await page.locator('button#start').click();
  await page.waitForURL((u) => u.pathname.startsWith('/hub/spawn-pending/') || u.pathname.startsWith(`/user/${user}/`), {
    waitUntil: 'commit',
  });
  result.afterStartPath = t.path();
  await page.waitForURL((u) => u.pathname.startsWith(`/user/${user}/`), { timeout: 150_000, waitUntil: 'commit' });
  result.serverPath = t.path();
  t.step('server up');

  // Back on the home page, which now offers the server and a stop button.
  await page.goto(home);
  result.running = {
    text: await t.text('main'),
    openHref: await page.locator('a#open').getAttribute('href'),
    openText: await t.text('a#open'),
    stopButton: await t.text('button#stop'),
  };
  await t.audit('home-running');

  // Stop: the page comes back saying the server is stopping or stopped; its
  // "Reload" link is followed until the start button is offered again.
  await page.locator('button#stop').click();
  await page.waitForURL((u) => u.pathname === '/hub/home', { waitUntil: 'commit' });
  result.afterStop = await t.text('main');
  t.step('stop clicked');
  const deadline = Date.now() + 60_000;
  while (!(await page.locator('button#start').isVisible())) {
    if (Date.now() > deadline) throw new Error('the start button did not come back');
    await page.waitForTimeout(500);
    const reload = page.getByRole('link', { name: 'Reload' });
    if (await reload.isVisible()) {
      await reload.click();
      await page.waitForLoadState();
    }
  }
  result.stoppedAgain = await t.text('main');
  t.step('stopped');
});
