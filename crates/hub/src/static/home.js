// The home page's named servers: "Delete" removes a stopped server for good
// through the REST API (DELETE …/servers/<name> with {"remove": true} and
// the page's XSRF token), then reloads the page. Start and stop are plain
// forms and work without this script.
'use strict';

(() => {
  const section = document.getElementById('named-servers');
  if (!section) return;
  const status = document.getElementById('server-action-status');
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
