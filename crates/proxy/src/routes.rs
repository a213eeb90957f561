//! The routing table: longest-prefix match on whole path segments, as
//! configurable-http-proxy's URL trie does.
//!
//! Readers load immutable snapshots through `ArcSwap`, so API writes never
//! block requests; the table is split into shards so a write copies only a
//! small part of it. A lookup probes a hash map once per prefix of the
//! request's segments, from the longest, so its cost depends on the depth of
//! the path, not on the number of routes. `last_activity` is an atomic inside
//! each entry: recording traffic never rebuilds the table.
//!
//! Entries are keyed by segments, so two keys differing only in extra
//! trailing slashes (`/a` and `/a/`, from `POST /api/routes/a//`) share one
//! slot: the later one replaces the earlier. CHP keeps both in its listing but
//! routes to only one of them.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::target::{TargetError, parse_target};

/// One route: where matching requests go, the data its owner stored with it,
/// and when it last saw traffic (the hub culls idle servers by it).
///
/// A large table is mostly these, so a route keeps its three strings in one
/// allocation and the table keys it by that same text: 10,000 routes take
/// 3.9 MiB where separate strings and keys took 5.4 (`bench/proxy/rss_routes.py`).
#[derive(Debug)]
pub struct Route {
    /// The key, the target and the data, one after the other.
    text: Box<str>,
    /// Where the target starts in `text`.
    target_at: usize,
    /// Where the data starts in `text`.
    data_at: usize,
    /// The target parsed once when stored, so requests need not parse it.
    target_uri: Result<http::Uri, TargetError>,
    last_activity_ms: AtomicI64,
}

impl Route {
    fn new(key: &str, target: &str, data: &str) -> Self {
        Self {
            text: [key, target, data].concat().into_boxed_str(),
            target_at: key.len(),
            data_at: key.len() + target.len(),
            target_uri: parse_target(target),
            last_activity_ms: AtomicI64::new(0),
        }
    }

    /// The route key, normalised (`/user/alice`, `/`).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.text[..self.target_at]
    }

    /// The target URL requests are forwarded to (`http://127.0.0.1:8888`).
    #[must_use]
    pub fn target(&self) -> &str {
        &self.text[self.target_at..self.data_at]
    }

    /// The data its owner stored, as the members of a JSON object
    /// (`"jupyterhub":true,"user":"alice"`), without `target` and
    /// `last_activity`: a small string where a map took about 700 bytes.
    fn data_members(&self) -> &str {
        &self.text[self.data_at..]
    }

    /// The target as a URL, or why it cannot be used (checked when the
    /// route was stored; CHP stores any string and fails on use).
    ///
    /// # Errors
    /// The target is not an http, https or unix-socket URL.
    pub fn target_uri(&self) -> Result<&http::Uri, TargetError> {
        self.target_uri.as_ref().map_err(Clone::clone)
    }

    /// Everything else the client POSTed, as it reads it back.
    #[must_use]
    pub fn data(&self) -> Map<String, Value> {
        serde_json::from_str(&format!("{{{}}}", self.data_members())).unwrap_or_default()
    }

    /// Records traffic now: a relaxed atomic store, cheap enough per chunk.
    pub fn touch(&self) {
        self.last_activity_ms
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    /// When the route last saw traffic (or was added).
    #[must_use]
    pub fn last_activity(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.last_activity_ms.load(Ordering::Relaxed))
            .unwrap_or_default()
    }

    /// The object the REST API shows: the stored data plus `target` and
    /// `last_activity` in JavaScript's `Date` JSON form (ms precision, `Z`).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut text = Vec::with_capacity(self.text.len() + 96);
        self.write_json(&mut text);
        serde_json::from_slice(&text).unwrap_or_default()
    }

    /// Appends the object of [`Route::to_json`] as JSON text, without
    /// building a `serde_json::Value` (listing 10,000 routes stays cheap).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        let data = self.data_members();
        if !data.is_empty() {
            out.extend_from_slice(data.as_bytes());
            out.push(b',');
        }
        out.extend_from_slice(b"\"target\":");
        write_json_string(out, self.target());
        let when = self
            .last_activity()
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        out.extend_from_slice(b",\"last_activity\":\"");
        out.extend_from_slice(when.as_bytes());
        out.extend_from_slice(b"\"}");
    }
}

/// Appends `text` as a JSON string literal.
pub fn write_json_string(out: &mut Vec<u8>, text: &str) {
    // Writing a &str into a Vec cannot fail.
    if serde_json::to_writer(&mut *out, text).is_err() {
        out.extend_from_slice(b"null");
    }
}

/// The members of `data` as JSON text (no braces), `target` and
/// `last_activity` left out (the route's own fields take those names).
fn data_members(mut data: Map<String, Value>) -> String {
    data.remove("target");
    data.remove("last_activity");
    if data.is_empty() {
        return String::new();
    }
    let mut text = Value::Object(data).to_string();
    text.pop();
    text.remove(0);
    text
}

/// CHP's key normalisation: ensure a leading `/`, drop exactly one trailing
/// `/` (except for `/` itself). Keys are compared case-sensitively.
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

/// A path's segments joined by `/`, with all leading and trailing slashes
/// dropped (the trie's view of a path; inner empty segments stay significant).
fn segments(path: &str) -> &str {
    path.trim_matches('/')
}

/// How many independently swapped parts the table has: a write copies one
/// part, so adding a route costs O(routes / SHARDS) instead of O(routes).
const SHARDS: usize = 1024;

/// Routes by their segment string; one immutable version of one shard.
type Shard = HashSet<Entry>;

/// A route in a shard, hashed and compared by its key's segments, which it
/// lends to lookups: the key is not stored a second time.
#[derive(Debug, Clone)]
struct Entry(Arc<Route>);

impl Entry {
    fn segments(&self) -> &str {
        segments(self.0.path())
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.segments() == other.segments()
    }
}

impl Eq for Entry {}

impl Hash for Entry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The same hash as the `&str` a lookup borrows it as.
        self.segments().hash(state);
    }
}

impl Borrow<str> for Entry {
    fn borrow(&self) -> &str {
        self.segments()
    }
}

/// The route table shared by the REST API (writer) and the data path (reader).
pub struct RouteTable {
    shards: Vec<ArcSwap<Shard>>,
    hasher: RandomState,
    /// Serialises writers so two concurrent API calls cannot lose an update.
    writer: Mutex<()>,
}

impl Default for RouteTable {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| ArcSwap::default()).collect(),
            hasher: RandomState::new(),
            writer: Mutex::new(()),
        }
    }
}

impl RouteTable {
    /// Adds or replaces the route at `path`; its activity starts now.
    pub fn insert(&self, path: &str, target: &str, data: Map<String, Value>) -> Arc<Route> {
        let key = normalize_key(path);
        let route = Arc::new(Route::new(&key, target, &data_members(data)));
        route.touch();
        let seg = segments(&key);
        self.update(seg, |shard| {
            shard.replace(Entry(Arc::clone(&route)));
        });
        route
    }

    /// Removes the route stored at `path`; returns whether there was one.
    pub fn remove(&self, path: &str) -> bool {
        let key = normalize_key(path);
        let seg = segments(&key);
        let mut existed = false;
        self.update(seg, |shard| {
            if shard.get(seg).is_some_and(|entry| entry.0.path() == key) {
                shard.remove(seg);
                existed = true;
            }
        });
        existed
    }

    /// The route stored under exactly this key (after normalisation).
    #[must_use]
    pub fn get(&self, path: &str) -> Option<Arc<Route>> {
        let key = normalize_key(path);
        let seg = segments(&key);
        self.shard(seg)
            .load()
            .get(seg)
            .filter(|entry| entry.0.path() == key)
            .map(|entry| Arc::clone(&entry.0))
    }

    /// Every route, sorted by key.
    #[must_use]
    pub fn all(&self) -> Vec<Arc<Route>> {
        let mut routes: Vec<Arc<Route>> = self
            .shards
            .iter()
            .flat_map(|shard| {
                let shard = shard.load();
                shard
                    .iter()
                    .map(|entry| Arc::clone(&entry.0))
                    .collect::<Vec<_>>()
            })
            .collect();
        routes.sort_by(|a, b| a.path().cmp(b.path()));
        routes
    }

    /// How many routes there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| shard.load().len()).sum()
    }

    /// Whether the table is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most specific route whose segments are a prefix of the
    /// (percent-decoded) request path's segments; `/` matches everything.
    #[must_use]
    pub fn lookup(&self, path: &str) -> Option<Arc<Route>> {
        let mut candidate = segments(path);
        loop {
            if let Some(entry) = self.shard(candidate).load().get(candidate) {
                return Some(Arc::clone(&entry.0));
            }
            if candidate.is_empty() {
                return None;
            }
            candidate = candidate.rfind('/').map_or("", |i| &candidate[..i]);
        }
    }

    fn shard(&self, seg: &str) -> &ArcSwap<Shard> {
        let index = self.hasher.hash_one(seg) % SHARDS as u64;
        &self.shards[usize::try_from(index).unwrap_or_default()]
    }

    /// Copies the shard holding `seg`, lets `change` edit it, publishes it.
    #[expect(
        clippy::mutable_key_type,
        reason = "an Entry hashes only its route's key text, which never changes; the atomic inside is last_activity"
    )]
    fn update(&self, seg: &str, change: impl FnOnce(&mut Shard)) {
        let _guard = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let shard = self.shard(seg);
        let mut next = Shard::clone(&shard.load());
        change(&mut next);
        shard.store(Arc::new(next));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(keys: &[&str]) -> RouteTable {
        let t = RouteTable::default();
        for k in keys {
            t.insert(k, &format!("http://target{k}"), Map::new());
        }
        t
    }

    fn hit(t: &RouteTable, path: &str) -> Option<String> {
        t.lookup(path).map(|r| r.path().to_owned())
    }

    #[test]
    fn written_route_is_its_data_target_and_activity() {
        let t = RouteTable::default();
        let mut data = Map::new();
        data.insert("user".into(), Value::String("al\"ice".into()));
        data.insert("jupyterhub".into(), Value::Bool(true));
        data.insert("nested".into(), serde_json::json!({"a": [1, null]}));
        // Posted `target`/`last_activity` data never shadows the route's own.
        data.insert("last_activity".into(), Value::String("x".into()));
        let route = t.insert("/user/alice", "http://127.0.0.1:1/\"q", data);
        let mut text = Vec::new();
        route.write_json(&mut text);
        let written: Value = serde_json::from_slice(&text).unwrap();
        let stamp = route
            .last_activity()
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        assert_eq!(
            written,
            serde_json::json!({
                "user": "al\"ice",
                "jupyterhub": true,
                "nested": {"a": [1, null]},
                "target": "http://127.0.0.1:1/\"q",
                "last_activity": stamp,
            })
        );
        assert_eq!(written, route.to_json());
        assert_eq!(route.data().len(), 3);

        let bare = t.insert("/", "http://127.0.0.1:2", Map::new());
        let mut text = Vec::new();
        bare.write_json(&mut text);
        let written: Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(written.as_object().unwrap().len(), 2, "{written}");
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
        assert_eq!(hit(&t, "").as_deref(), Some("/"));
    }

    #[test]
    fn chp_trie_checklist() {
        let t = table(&[
            "/1", "/2", "/a/b/c/d", "/a/b/d", "/a/b/e", "/b", "/b/c", "/b/c/d",
        ]);
        assert_eq!(hit(&t, "/not/found"), None);
        assert_eq!(hit(&t, "/1/etc/etc/").as_deref(), Some("/1"));
        // Intermediate nodes are not matches.
        assert_eq!(hit(&t, "/a"), None);
        assert_eq!(hit(&t, "/a/b/c"), None);
        assert_eq!(hit(&t, "/a/b/c/d/e/f").as_deref(), Some("/a/b/c/d"));
        assert_eq!(hit(&t, "/b/c/d/word").as_deref(), Some("/b/c/d"));
        assert_eq!(hit(&t, "/b/c/dword").as_deref(), Some("/b/c"));
        assert!(t.remove("/b"));
        assert_eq!(hit(&t, "/b/c/x").as_deref(), Some("/b/c"));
        assert_eq!(hit(&t, "/b/x"), None);
    }

    #[test]
    fn empty_segments_are_significant() {
        let t = table(&["/user/a"]);
        assert_eq!(hit(&t, "/user//a"), None);
        assert_eq!(hit(&t, "//user/a/x").as_deref(), Some("/user/a"));
    }

    #[test]
    fn without_a_default_route_unmatched_paths_miss() {
        let t = table(&["/user/a"]);
        assert_eq!(hit(&t, "/hub/login"), None);
        assert!(t.remove("/user/a/"));
        assert!(!t.remove("/user/a"));
        assert_eq!(hit(&t, "/user/a/x"), None);
        assert!(t.is_empty());
    }

    #[test]
    fn removing_a_deeper_route_falls_back_to_root() {
        let t = table(&["/", "/prefix"]);
        assert_eq!(hit(&t, "/prefix/sub").as_deref(), Some("/prefix"));
        assert!(t.remove("/prefix/"));
        assert_eq!(hit(&t, "/prefix/sub").as_deref(), Some("/"));
    }

    #[test]
    fn insert_replaces_and_keeps_data() {
        let t = RouteTable::default();
        let mut data = Map::new();
        data.insert("user".into(), Value::String("alice".into()));
        t.insert("/user/alice/", "http://127.0.0.1:1", data);
        t.insert("/user/alice", "http://127.0.0.1:2", Map::new());
        assert_eq!(t.len(), 1);
        let route = t.get("/user/alice").unwrap();
        assert_eq!(route.target(), "http://127.0.0.1:2");
        assert!(route.data().is_empty());
        let json = route.to_json();
        assert_eq!(json["target"], "http://127.0.0.1:2");
        let stamp = json["last_activity"].as_str().unwrap();
        assert!(stamp.ends_with('Z') && stamp.len() == 24, "{stamp}");
    }

    #[test]
    fn keys_sharing_segments_share_a_slot() {
        let t = table(&["/a"]);
        t.insert("/a//", "http://later", Map::new());
        assert_eq!(t.len(), 1);
        assert!(t.get("/a").is_none());
        assert_eq!(t.get("/a//").unwrap().target(), "http://later");
        assert!(!t.remove("/a"), "only the stored key removes it");
        assert_eq!(hit(&t, "/a/x").as_deref(), Some("/a/"));
    }

    #[test]
    fn listing_is_sorted_and_complete() {
        let t = table(&["/b", "/", "/a/z", "/a"]);
        let keys: Vec<String> = t.all().iter().map(|r| r.path().to_owned()).collect();
        assert_eq!(keys, ["/", "/a", "/a/z", "/b"]);
    }

    #[test]
    fn keys_are_normalized() {
        assert_eq!(normalize_key("/user/bob/"), "/user/bob");
        assert_eq!(normalize_key("user/bob"), "/user/bob");
        assert_eq!(normalize_key("/"), "/");
        assert_eq!(normalize_key(""), "/");
        assert_eq!(normalize_key("/user/bob//"), "/user/bob/");
    }
}
