//! The routing table: longest-prefix match on whole path segments.
//!
//! Readers take an immutable snapshot (`ArcSwap`), so updates never block
//! requests; a lookup tries each prefix of the path from the longest, so its
//! cost depends on the number of segments, not on the number of routes.
//! `last_activity` is an atomic in each entry: recording traffic never
//! rebuilds the table.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arc_swap::ArcSwap;
use serde_json::{Map, Value};

/// One route: where it goes and the data its owner stored with it.
#[derive(Debug)]
pub struct Route {
    /// Route key (`/user/alice`, `/`).
    pub path: String,
    /// Target URL (`http://127.0.0.1:8888`, possibly with a path).
    pub target: String,
    /// Everything else the client POSTed (kept as-is).
    pub data: Map<String, Value>,
    last_activity_ms: AtomicI64,
}

impl Route {
    /// Records traffic now.
    pub fn touch(&self) {
        self.last_activity_ms
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    /// Last traffic, unix milliseconds.
    #[must_use]
    pub fn last_activity_ms(&self) -> i64 {
        self.last_activity_ms.load(Ordering::Relaxed)
    }

    /// The JSON the REST API shows: data, `target` and `last_activity` (ISO, ms, `Z`).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut object = self.data.clone();
        object.insert("target".into(), Value::String(self.target.clone()));
        let when =
            chrono::DateTime::from_timestamp_millis(self.last_activity_ms()).unwrap_or_default();
        object.insert(
            "last_activity".into(),
            Value::String(when.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        Value::Object(object)
    }
}

/// CHP's key normalisation: a leading `/`, one trailing `/` removed (except for `/`).
#[must_use]
pub fn normalize_key(path: &str) -> String {
    let mut key = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    if key.len() > 1 && key.ends_with('/') {
        key.pop();
    }
    key
}

/// The table.
#[derive(Default)]
pub struct RouteTable {
    snapshot: ArcSwap<HashMap<String, Arc<Route>>>,
    writer: std::sync::Mutex<()>,
}

impl RouteTable {
    /// Adds or replaces a route (its activity starts now).
    pub fn insert(&self, path: &str, target: String, data: Map<String, Value>) {
        let key = normalize_key(path);
        let route = Arc::new(Route {
            path: key.clone(),
            target,
            data,
            last_activity_ms: AtomicI64::new(0),
        });
        route.touch();
        let _guard = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next = HashMap::clone(&self.snapshot.load());
        next.insert(key, route);
        self.snapshot.store(Arc::new(next));
    }

    /// Removes a route; returns whether it existed.
    pub fn remove(&self, path: &str) -> bool {
        let key = normalize_key(path);
        let _guard = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next = HashMap::clone(&self.snapshot.load());
        let existed = next.remove(&key).is_some();
        self.snapshot.store(Arc::new(next));
        existed
    }

    /// The route stored under exactly this key.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<Arc<Route>> {
        self.snapshot.load().get(&normalize_key(path)).cloned()
    }

    /// All routes.
    #[must_use]
    pub fn all(&self) -> Vec<Arc<Route>> {
        self.snapshot.load().values().cloned().collect()
    }

    /// The most specific route whose segments prefix the (decoded) request path.
    #[must_use]
    pub fn lookup(&self, path: &str) -> Option<Arc<Route>> {
        let table = self.snapshot.load();
        let trimmed = path.trim_start_matches('/').trim_end_matches('/');
        let mut candidate = trimmed;
        loop {
            let key = format!("/{candidate}");
            let key = if key == "/" {
                key
            } else {
                key.trim_end_matches('/').to_owned()
            };
            if let Some(route) = table.get(&key) {
                return Some(Arc::clone(route));
            }
            if candidate.is_empty() {
                return None;
            }
            candidate = candidate.rfind('/').map_or("", |i| &candidate[..i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(keys: &[&str]) -> RouteTable {
        let t = RouteTable::default();
        for k in keys {
            t.insert(k, format!("http://{}", k.trim_matches('/')), Map::new());
        }
        t
    }

    fn hit(t: &RouteTable, path: &str) -> Option<String> {
        t.lookup(path).map(|r| r.path.clone())
    }

    #[test]
    fn longest_prefix_on_segment_boundaries() {
        let t = table(&["/", "/user/a", "/user/a/sub"]);
        assert_eq!(hit(&t, "/user/a").as_deref(), Some("/user/a"));
        assert_eq!(hit(&t, "/user/a/").as_deref(), Some("/user/a"));
        assert_eq!(hit(&t, "/user/a/x/y").as_deref(), Some("/user/a"));
        assert_eq!(hit(&t, "/user/ab").as_deref(), Some("/"));
        assert_eq!(hit(&t, "/user/a/sub/z").as_deref(), Some("/user/a/sub"));
        assert_eq!(hit(&t, "/user/a/subx").as_deref(), Some("/user/a"));
        assert_eq!(hit(&t, "/").as_deref(), Some("/"));
    }

    #[test]
    fn no_default_route_means_no_match() {
        let t = table(&["/user/a"]);
        assert_eq!(hit(&t, "/hub/login"), None);
        assert!(t.remove("/user/a/"));
        assert!(!t.remove("/user/a"));
        assert_eq!(hit(&t, "/user/a/x"), None);
    }

    #[test]
    fn keys_are_normalized() {
        assert_eq!(normalize_key("/user/bob/"), "/user/bob");
        assert_eq!(normalize_key("user/bob"), "/user/bob");
        assert_eq!(normalize_key("/"), "/");
        assert_eq!(normalize_key("/user/bob//"), "/user/bob/");
    }
}
