// The spawn page with Spawner.profile_list: a person signs in, is shown the
// "Server Options" form (the hub has profiles, so it asks before starting),
// picks the second profile with the keyboard-reachable radio button's label,
// submits with Start and reaches their server, on the profile's default_url.
// Params: url, user, password.
import { run } from './lib.mjs';

await run(async (t) => {
  const { page, params, result } = t;
  const user = params.user;

  // Signing in with no server running leads to the spawn page, which now
  // shows the form instead of starting at once.
  await page.goto(`${params.url}/hub/login`);
  await page.locator('#username_input').fill(user);
  await page.locator('#password_input').fill(params.password);
  await page.locator('#login_submit').click();
  await page.waitForURL((u) => u.pathname === '/hub/spawn');
  result.formPath = t.path();
  result.heading = await t.text('h1');
  result.legend = await t.text('fieldset legend');
  const readChoices = () =>
    page.evaluate(() =>
      [...document.querySelectorAll('#spawn_form input[type=radio][name=profile]')].map((radio) => {
        const label = document.querySelector(`label[for="${radio.id}"]`);
        const described = radio.getAttribute('aria-describedby');
        const description = described ? document.getElementById(described) : null;
        return {
          label: label ? label.innerText.trim() : null,
          value: radio.value,
          checked: radio.checked,
          description: description ? description.innerText.trim() : null,
        };
      }),
    );
  result.choices = await readChoices();
  await t.audit('spawn-form');

  // An unknown profile in the query: the form again, with the choices named.
  await page.goto(`${params.url}/hub/spawn?opt-profile=nope`);
  await t.expectConsoleError(/400/);
  result.refusal = await t.text('.spawn-error-msg');
  result.refusalRole = await page.locator('.spawn-error-msg').getAttribute('role');
  await t.audit('spawn-form-unknown-profile');
  await page.goto(`${params.url}/hub/spawn`);

  // Choose the second profile by its label, as a person would.
  await page.getByLabel('Big GPU').check();
  result.chosen = await page.locator('#spawn_form input[name=profile]:checked').inputValue();
  await t.audit('spawn-form-second-chosen');

  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL((u) => u.pathname.startsWith(`/user/${user}/`), { timeout: 150_000, waitUntil: 'commit' });
  t.step('server up');
  // The server's root sends the browser to the profile's default_url.
  await page.goto(`${params.url}/user/${user}/`);
  await page.waitForURL((u) => u.pathname === `/user/${user}/lab/workspaces/gpu`, { timeout: 60_000 });
  await page.locator('#jp-main-dock-panel').waitFor({ state: 'visible', timeout: 90_000 });
  // JupyterLab names the workspace in the title once it has restored it.
  await page.waitForFunction(() => document.title.includes('(gpu)'), null, { timeout: 30_000 }).catch(() => {});
  result.labTitle = await page.title();
  result.finalPath = t.path();
});
