// The "not running" page with JupyterHub.implicit_spawn_seconds: counts down
// visibly, then follows the Launch link; the person can stop the countdown.
'use strict';

(() => {
  const notice = document.getElementById('implicit-spawn');
  if (!notice) return;
  const countdown = document.getElementById('countdown');
  const cancel = document.getElementById('cancel-implicit');
  let left = Math.ceil(Number(notice.dataset.seconds) || 0);
  const timer = setInterval(() => {
    left -= 1;
    countdown.textContent = String(Math.max(left, 0));
    if (left <= 0) {
      clearInterval(timer);
      window.location.assign(notice.dataset.spawnUrl);
    }
  }, 1000);
  cancel.hidden = false;
  cancel.addEventListener('click', () => {
    clearInterval(timer);
    notice.textContent = 'Automatic start cancelled. Launch the server below when you want it.';
    cancel.hidden = true;
  });
})();
