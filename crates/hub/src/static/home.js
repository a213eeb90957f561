// The home page's named servers: "Delete" removes a stopped server for good
// through the REST API (DELETE …/servers/<name> with {"remove": true} and
// the page's XSRF token), then reloads the page. Start and stop are plain
// forms and work without this script.
'use strict';

(() => {
  const section = document.getElementById('named-servers');
  if (!section) return;
  const status = document.getElementById('server-action-status');
  // Last activity as "5 minutes ago" (the exact time stays in the tooltip).
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const units = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  for (const time of section.querySelectorAll('time[datetime]')) {
    const when = new Date(time.getAttribute('datetime'));
    if (Number.isNaN(when.getTime())) continue;
    const seconds = Math.round((when.getTime() - Date.now()) / 1000);
    const [unit, size] = units.find(([, s]) => Math.abs(seconds) >= s) || units[units.length - 1];
    time.textContent = relative.format(Math.round(seconds / size), unit);
    time.title = when.toLocaleString();
  }
  for (const button of section.querySelectorAll('button.delete-server')) {
    const row = button.closest('tr');
    button.hidden = false;
    button.addEventListener('click', async () => {
      const name = row.dataset.serverName;
      if (!window.confirm(`Delete the server ${name}? Its settings are removed; files in your home directory stay.`)) return;
      button.disabled = true;
      status.textContent = `Deleting ${name}…`;
      try {
        const response = await fetch(row.dataset.apiUrl, {
          method: 'DELETE',
          credentials: 'same-origin',
          headers: {
            'X-XSRFToken': section.dataset.xsrf,
            'Content-Type': 'application/json',
            Accept: 'application/json',
          },
          body: JSON.stringify({ remove: true }),
        });
        if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          throw new Error(body.message || `status ${response.status}`);
        }
        window.location.reload();
      } catch (err) {
        status.textContent = `Could not delete ${name}: ${err.message}`;
        button.disabled = false;
      }
    });
  }
})();
