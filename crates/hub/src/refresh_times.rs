//! When each user's authentication was last confirmed by the authenticator
//! (kept here, below the hub's state; `service::auth_refresh` decides when
//! to check again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// When each user's authentication was last confirmed (upstream's
/// in-memory `User._auth_refreshed`: a restarted hub checks everyone again).
#[derive(Default)]
pub(crate) struct RefreshTimes {
    users: Mutex<HashMap<i64, Slot>>,
}

/// One user's last confirmation, locked while a check runs.
pub(crate) type Slot = Arc<tokio::sync::Mutex<Option<Instant>>>;

impl RefreshTimes {
    pub(crate) fn slot(&self, user_id: i64) -> Slot {
        let mut users = self
            .users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(users.entry(user_id).or_default())
    }

    /// Records a login: fresh authentication needs no check for another
    /// `auth_refresh_age` (upstream sets the time at login too).
    pub(crate) fn confirmed_now(&self, user_id: i64) {
        let slot = self.slot(user_id);
        if let Ok(mut last) = slot.try_lock() {
            *last = Some(Instant::now());
        }
    }
}
