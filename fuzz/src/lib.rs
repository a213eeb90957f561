//! Reference models shared by the fuzz targets. They are written from the
//! spec (`research/proxy-spec.md` §3-4), deliberately naively (a `Vec`, byte
//! loops), so a disagreement with the proxy's optimised code is a finding.

/// The largest API body the proxy accepts (`api::MAX_BODY`, 1 MiB).
pub const MAX_BODY: usize = 1024 * 1024;

/// CHP's key normalisation (spec §3): ensure a leading `/`, drop exactly one
/// trailing `/` unless the key is `/`.
#[must_use]
pub fn normalize(path: &str) -> String {
    let mut key = String::from("/");
    key.push_str(path.strip_prefix('/').unwrap_or(path));
    if key != "/" && key.ends_with('/') {
        key.pop();
    }
    key
}

/// The trie's view of a path (spec §4.1.3): segments after dropping all
/// leading and trailing slashes; inner empty segments count; `/` has none.
pub fn segments(path: &str) -> impl Iterator<Item = &str> + Clone {
    let trimmed = path.trim_matches('/');
    trimmed
        .split('/')
        .take(usize::from(!trimmed.is_empty()) * usize::MAX)
}

/// Whether `route`'s segments are a prefix of `path`'s.
fn is_prefix(route: &str, path: &str) -> bool {
    let mut path = segments(path);
    segments(route).all(|segment| path.next() == Some(segment))
}

/// Strict percent-decoding like JavaScript's `decodeURIComponent`: every `%`
/// must start a two-hex-digit escape and the result must be UTF-8.
#[must_use]
pub fn decode_strict(path: &str) -> Option<String> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes everything but unreserved characters and `/`, so a key
/// can be put back into an API URL.
#[must_use]
pub fn encode_path(key: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(key.len());
    for &b in key.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// One route in the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRoute<T> {
    /// The normalised key.
    pub key: String,
    /// Whatever the target stores with it.
    pub value: T,
}

/// The routing table as a plain list, per spec §4.1, plus the documented
/// ferrohub choice (`routes.rs`): keys with the same segments (`/a`, `/a//`)
/// share one slot, the later insert replacing the earlier.
#[derive(Debug, Clone)]
pub struct Model<T> {
    /// The routes, in insertion order.
    pub routes: Vec<ModelRoute<T>>,
}

impl<T> Default for Model<T> {
    fn default() -> Self {
        Self { routes: Vec::new() }
    }
}

impl<T> Model<T> {
    /// Adds or replaces the route at `path` (normalised, as `RouteTable` does).
    pub fn insert(&mut self, path: &str, value: T) {
        self.insert_key(normalize(path), value);
    }

    /// Adds or replaces the route under exactly `key`.
    pub fn insert_key(&mut self, key: String, value: T) {
        self.routes.retain(|r| !segments(&r.key).eq(segments(&key)));
        self.routes.push(ModelRoute { key, value });
    }

    /// Removes the route stored at `path` (normalised); whether there was one.
    pub fn remove(&mut self, path: &str) -> bool {
        self.remove_key(&normalize(path))
    }

    /// Removes the route stored under exactly `key`; whether there was one.
    pub fn remove_key(&mut self, key: &str) -> bool {
        let before = self.routes.len();
        self.routes.retain(|r| r.key != key);
        before != self.routes.len()
    }

    /// The route stored at `path` (normalised).
    #[must_use]
    pub fn get(&self, path: &str) -> Option<&ModelRoute<T>> {
        self.get_key(&normalize(path))
    }

    /// The route stored under exactly `key`.
    #[must_use]
    pub fn get_key(&self, key: &str) -> Option<&ModelRoute<T>> {
        self.routes.iter().find(|r| r.key == key)
    }

    /// Longest whole-segment prefix match; `/` matches everything.
    #[must_use]
    pub fn lookup(&self, path: &str) -> Option<&ModelRoute<T>> {
        self.routes
            .iter()
            .filter(|r| is_prefix(&r.key, path))
            .max_by_key(|r| segments(&r.key).count())
    }

    /// The keys, sorted.
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.routes.iter().map(|r| r.key.clone()).collect();
        keys.sort();
        keys
    }
}

/// CHP's token rule (spec §3): the header matches `/token\s+(\S+)/` (first
/// match, case-sensitive, unanchored) and the captured word is the token.
#[must_use]
pub fn token_matches(header: Option<&[u8]>, expected: &str) -> bool {
    let Some(value) = header else {
        return false;
    };
    let ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let word = b"token";
    for start in 0..value.len() {
        if !value[start..].starts_with(word) {
            continue;
        }
        let mut i = start + word.len();
        let spaces = value[i..].iter().take_while(|&&b| ws(b)).count();
        i += spaces;
        let len = value[i..].iter().take_while(|&&b| !ws(b)).count();
        if spaces > 0 && len > 0 {
            return &value[i..i + len] == expected.as_bytes();
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_basics() {
        let mut m = Model::default();
        for k in ["/", "/user/a", "/user/a/sub"] {
            m.insert(k, ());
        }
        let hit = |m: &Model<()>, p: &str| m.lookup(p).map(|r| r.key.clone());
        assert_eq!(hit(&m, "/user/a/subx").as_deref(), Some("/user/a"));
        assert_eq!(hit(&m, "/user/ab").as_deref(), Some("/"));
        assert_eq!(hit(&m, "/user/a/sub/z").as_deref(), Some("/user/a/sub"));
        m.insert("/user/a//", ());
        assert_eq!(m.keys(), ["/", "/user/a/", "/user/a/sub"]);
        assert!(!m.remove("/user/a"));
        assert!(m.remove("/user/a//"));
        assert_eq!(segments("//").count(), 0);
        assert!(segments("/a//b/").eq(["a", "", "b"]));
        assert_eq!(decode_strict("/a%40b%2F").as_deref(), Some("/a@b/"));
        assert_eq!(decode_strict("/%4"), None);
        assert_eq!(decode_strict("/%ff"), None);
        assert_eq!(encode_path("/a b@"), "/a%20b%40");
        assert!(token_matches(Some(b"xtokenx token  s"), "s"));
        assert!(!token_matches(Some(b"Token s"), "s"));
        assert!(!token_matches(Some(b"token s2"), "s"));
    }
}
