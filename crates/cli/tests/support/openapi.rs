//! Upstream's OpenAPI document (`tests/data/rest-api.json`): loading with every
//! `$ref` resolved, its operations, and a small JSON-schema validator covering
//! exactly the keywords the spec uses (unknown keywords are reported, never
//! silently accepted).

use serde_json::{Map, Value};

/// The vendored upstream spec, as parsed JSON (refs not yet resolved).
/// Included relative to this file, so that other crates' tests can use this
/// module too (`crates/hub/tests/scope_matrix.rs` includes it by `#[path]`).
pub(crate) fn load_raw() -> Value {
    const TEXT: &str = include_str!("../data/rest-api.json");
    serde_json::from_str(TEXT).unwrap_or_else(|e| panic!("tests/data/rest-api.json: {e}"))
}

/// Operations whose `security` scopes differ from what upstream's handler's
/// `needs_scope` checks: (operation, the handler's scopes, why). The
/// conformance suite mints these for its allowed call; the hub's scope matrix
/// starts from them.
pub(crate) const SCOPE_CORRECTIONS: &[(&str, &[&str], &str)] = &[
    (
        "GET /services",
        &["list:services"],
        "ServiceListAPIHandler needs list:services (post-filtered); read:services does not imply it",
    ),
    (
        "POST /users/{name}/server",
        &["start:servers"],
        "UserServerAPIHandler.post needs start:servers (6.0); the spec still names its parent `servers`",
    ),
];

/// The scopes upstream's handler accepts for `op`: [`SCOPE_CORRECTIONS`] if it
/// lists the operation, else the spec's own `security` scopes.
pub(crate) fn handler_scopes(op: &Operation) -> Vec<String> {
    let key = op.key();
    SCOPE_CORRECTIONS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, scopes, _)| scopes.iter().map(|s| (*s).to_owned()).collect())
        .or_else(|| op.security_scopes())
        .unwrap_or_default()
}

/// An OpenAPI document with all `$ref`s replaced by what they point to.
pub(crate) struct Spec {
    pub doc: Value,
}

/// One path + method of the spec.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template, e.g. `/users/{name}`.
    pub path: String,
    /// The operation object (resolved).
    pub op: Value,
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

impl Spec {
    /// Resolves every `$ref` of `raw` (internal `#/...` references only).
    #[allow(
        clippy::needless_pass_by_value,
        reason = "callers hand over the document they loaded (crates/hub/tests shares this file)"
    )]
    pub(crate) fn resolve(raw: Value) -> Result<Self, String> {
        let doc = resolve_node(&raw, &raw, 0)?;
        Ok(Self { doc })
    }

    /// Every path + method, sorted by path and then method (serde_json maps
    /// are sorted), not in document order.
    pub(crate) fn operations(&self) -> Vec<Operation> {
        let mut out = Vec::new();
        for (path, item) in self.doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                if METHODS.contains(&method.as_str()) {
                    out.push(Operation {
                        method: method.to_uppercase(),
                        path: path.clone(),
                        op: op.clone(),
                    });
                }
            }
        }
        out
    }
}

impl Operation {
    /// `GET /users/{name}`.
    pub(crate) fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The documented 2xx status codes.
    pub(crate) fn success_codes(&self) -> Vec<u16> {
        self.documented_codes()
            .into_iter()
            .filter(|c| (200..300).contains(c))
            .collect()
    }

    /// Every documented status code.
    pub(crate) fn documented_codes(&self) -> Vec<u16> {
        self.op["responses"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(code, _)| code.parse().ok())
            .collect()
    }

    /// The JSON schema of the response with `status`, if the spec gives one.
    pub(crate) fn response_schema(&self, status: u16) -> Option<&Value> {
        self.op["responses"]
            .get(status.to_string())?
            .get("content")?
            .get("application/json")?
            .get("schema")
    }

    /// The request body's media type and schema, if any.
    pub(crate) fn request_schema(&self) -> Option<(&str, &Value)> {
        let content = self.op["requestBody"]["content"].as_object()?;
        let (media, body) = content.iter().next()?;
        Some((media.as_str(), body.get("schema")?))
    }

    /// Whether the spec marks the request body as required.
    pub(crate) fn body_required(&self) -> bool {
        self.op["requestBody"]["required"] == true
    }

    /// Names of the path parameters (`{name}` in the template), in order.
    pub(crate) fn path_params(&self) -> Vec<String> {
        self.path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
            .collect()
    }

    /// The parameters the spec documents, as (location, name).
    pub(crate) fn parameters(&self) -> Vec<(String, String)> {
        self.op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    p["in"].as_str().unwrap_or_default().to_owned(),
                    p["name"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The oauth2 scopes of the operation's own `security` section (`None`
    /// when it has none and the document default applies).
    pub(crate) fn security_scopes(&self) -> Option<Vec<String>> {
        let requirements = self.op.get("security")?.as_array()?;
        Some(
            requirements
                .iter()
                .filter_map(|r| r.get("oauth2")?.as_array())
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
        )
    }
}

/// Follows a local JSON pointer reference (`#/components/schemas/User`).
fn lookup<'a>(root: &'a Value, reference: &str) -> Result<&'a Value, String> {
    let pointer = reference
        .strip_prefix('#')
        .ok_or_else(|| format!("only local $refs are supported, not {reference:?}"))?;
    root.pointer(pointer)
        .ok_or_else(|| format!("$ref {reference:?} points nowhere"))
}

/// Keys next to a `$ref` that only annotate and are dropped when it is resolved.
const REF_ANNOTATIONS: &[&str] = &["description", "summary", "example", "examples"];

fn resolve_node(node: &Value, root: &Value, depth: usize) -> Result<Value, String> {
    if depth > 64 {
        return Err("$ref nesting deeper than 64: a cycle?".into());
    }
    match node {
        Value::Array(items) => items
            .iter()
            .map(|i| resolve_node(i, root, depth))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref") {
                let reference = reference
                    .as_str()
                    .ok_or_else(|| format!("$ref must be a string, not {reference}"))?;
                let target = resolve_node(lookup(root, reference)?, root, depth + 1)?;
                // OpenAPI 3.1 allows keywords beside `$ref`; they apply too.
                let siblings: Map<String, Value> = map
                    .iter()
                    .filter(|(k, _)| *k != "$ref" && !REF_ANNOTATIONS.contains(&k.as_str()))
                    .map(|(k, v)| Ok((k.clone(), resolve_node(v, root, depth)?)))
                    .collect::<Result<_, String>>()?;
                return Ok(if siblings.is_empty() {
                    target
                } else {
                    serde_json::json!({"allOf": [target, Value::Object(siblings)]})
                });
            }
            let mut out = Map::new();
            for (key, value) in map {
                let resolved = if key == "discriminator" {
                    resolve_discriminator(value, root, depth)?
                } else {
                    resolve_node(value, root, depth)?
                };
                out.insert(key.clone(), resolved);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// `discriminator.mapping` values are references written as plain strings.
fn resolve_discriminator(value: &Value, root: &Value, depth: usize) -> Result<Value, String> {
    let mut out = value.clone();
    if let Some(mapping) = out.get_mut("mapping").and_then(Value::as_object_mut) {
        for target in mapping.values_mut() {
            if let Some(reference) = target.as_str() {
                *target = resolve_node(lookup(root, reference)?, root, depth + 1)?;
            }
        }
    }
    Ok(out)
}

/// Validates `instance` against `schema`; returns one readable line per
/// mismatch (`$.servers["gpu"].pending: expected string, got null`), empty if valid.
pub(crate) fn validate(schema: &Value, instance: &Value) -> Vec<String> {
    validate_with(schema, instance, &Mode::default())
}

/// How strict [`validate_with`] is.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Mode<'a> {
    /// Also report documented properties that are absent (for callers who may
    /// see every field, where a missing key is a missing feature).
    pub complete: bool,
    /// Property names that may be absent even then (e.g. a token has `user`
    /// or `service`, never both).
    pub optional: &'a [&'a str],
}

/// [`validate`], with the completeness check if `mode` asks for it.
pub(crate) fn validate_with(schema: &Value, instance: &Value, mode: &Mode<'_>) -> Vec<String> {
    let mut out = Vec::new();
    check(schema, instance, "$", mode, &mut out);
    out
}

/// Keywords that only annotate a schema.
const ANNOTATIONS: &[&str] = &[
    "description",
    "example",
    "examples",
    "title",
    "deprecated",
    "default",
    "readOnly",
    "writeOnly",
];

/// Keywords the validator implements.
const KEYWORDS: &[&str] = &[
    "type",
    "nullable",
    "enum",
    "format",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "allOf",
    "oneOf",
    "anyOf",
    "discriminator",
];

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(value: &Value, wanted: &str) -> bool {
    match wanted {
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        other => type_name(value) == other,
    }
}

/// A short rendering of a value for messages.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

fn child(at: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("{at}.{key}")
    } else {
        format!("{at}[{}]", Value::String(key.to_owned()))
    }
}

fn check(schema: &Value, instance: &Value, at: &str, mode: &Mode<'_>, out: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        if schema != &Value::Bool(true) {
            out.push(format!("{at}: schema is not an object: {}", short(schema)));
        }
        return;
    };
    for key in schema.keys() {
        if !KEYWORDS.contains(&key.as_str()) && !ANNOTATIONS.contains(&key.as_str()) {
            out.push(format!("{at}: unsupported schema keyword {key:?}"));
        }
    }
    let nullable = schema.get("nullable") == Some(&Value::Bool(true));
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            other => {
                out.push(format!("{at}: bad \"type\" in schema: {other}"));
                return;
            }
        };
        let ok = types.iter().any(|t| has_type(instance, t)) || (nullable && instance.is_null());
        if !ok {
            out.push(format!(
                "{at}: expected {}, got {} {}",
                types.join(" or "),
                type_name(instance),
                short(instance)
            ));
            // Deeper checks would only repeat the same mistake.
            return;
        }
    }
    // OpenAPI 3.0 `nullable`: null is acceptable whatever the other keywords say.
    if nullable && instance.is_null() {
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(instance)
    {
        out.push(format!(
            "{at}: {} is not one of {}",
            short(instance),
            short(&Value::Array(allowed.clone()))
        ));
    }
    if let (Some(format), Some(text)) = (schema.get("format"), instance.as_str()) {
        match format.as_str() {
            Some("date-time") => {
                if !is_iso8601_utc(text) {
                    out.push(format!(
                        "{at}: {text:?} is not an ISO-8601 date-time ending in Z"
                    ));
                }
            }
            other => out.push(format!("{at}: unsupported format {other:?}")),
        }
    }
    if let Some(object) = instance.as_object() {
        check_object(schema, object, at, mode, out);
    }
    if let (Some(items), Some(array)) = (schema.get("items"), instance.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(items, item, &format!("{at}[{i}]"), mode, out);
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for sub in all {
            check(sub, instance, at, mode, out);
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let branches: Vec<Vec<String>> = any
            .iter()
            .map(|s| validate_at(s, instance, at, mode))
            .collect();
        if !branches.iter().any(Vec::is_empty) {
            out.push(format!(
                "{at}: matches none of anyOf: {}",
                branches
                    .iter()
                    .map(|b| b.join("; "))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        check_one_of(schema, one, instance, at, mode, out);
    }
}

fn validate_at(schema: &Value, instance: &Value, at: &str, mode: &Mode<'_>) -> Vec<String> {
    let mut out = Vec::new();
    check(schema, instance, at, mode, &mut out);
    out
}

fn check_object(
    schema: &Map<String, Value>,
    object: &Map<String, Value>,
    at: &str,
    mode: &Mode<'_>,
    out: &mut Vec<String>,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    if mode.complete {
        for name in properties.into_iter().flat_map(Map::keys) {
            if !object.contains_key(name) && !mode.optional.contains(&name.as_str()) {
                out.push(format!("{at}: documented property {name:?} is missing"));
            }
        }
    }
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !object.contains_key(name) {
            out.push(format!("{at}: required property {name:?} is missing"));
        }
    }
    for (key, value) in object {
        let here = child(at, key);
        if let Some(property) = properties.and_then(|p| p.get(key)) {
            check(property, value, &here, mode, out);
            continue;
        }
        match schema.get("additionalProperties") {
            Some(Value::Bool(false)) => {
                out.push(format!("{here}: property not allowed by the schema"));
            }
            Some(Value::Bool(true)) | None => {}
            Some(extra) => check(extra, value, &here, mode, out),
        }
    }
}

fn check_one_of(
    schema: &Map<String, Value>,
    branches: &[Value],
    instance: &Value,
    at: &str,
    mode: &Mode<'_>,
    out: &mut Vec<String>,
) {
    // With a discriminator, the named property picks the branch.
    if let Some(discriminator) = schema.get("discriminator") {
        let property = discriminator["propertyName"].as_str().unwrap_or_default();
        let Some(value) = instance.get(property).and_then(Value::as_str) else {
            out.push(format!(
                "{at}: discriminator property {property:?} missing or not a string"
            ));
            return;
        };
        match discriminator["mapping"].get(value) {
            Some(branch) => check(branch, instance, at, mode, out),
            None => out.push(format!(
                "{at}: {property} = {value:?} is not a value the discriminator maps"
            )),
        }
        return;
    }
    let results: Vec<Vec<String>> = branches
        .iter()
        .map(|s| validate_at(s, instance, at, mode))
        .collect();
    match results.iter().filter(|r| r.is_empty()).count() {
        1 => {}
        0 => out.push(format!(
            "{at}: matches none of oneOf: {}",
            results
                .iter()
                .map(|b| b.join("; "))
                .collect::<Vec<_>>()
                .join(" | ")
        )),
        n => out.push(format!(
            "{at}: matches {n} branches of oneOf, not exactly one"
        )),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with plausible field values.
pub(crate) fn is_iso8601_utc(text: &str) -> bool {
    let Some(body) = text.strip_suffix('Z') else {
        return false;
    };
    let (main, fraction) = match body.split_once('.') {
        Some((main, fraction)) => (main, Some(fraction)),
        None => (body, None),
    };
    if fraction.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let bytes = main.as_bytes();
    if bytes.len() != 19 {
        return false;
    }
    let layout_ok = bytes.iter().enumerate().all(|(i, b)| match i {
        4 | 7 => *b == b'-',
        10 => *b == b'T',
        13 | 16 => *b == b':',
        _ => b.is_ascii_digit(),
    });
    if !layout_ok {
        return false;
    }
    let num = |range: std::ops::Range<usize>| main[range].parse::<u32>().unwrap_or(u32::MAX);
    (1..=12).contains(&num(5..7))
        && (1..=31).contains(&num(8..10))
        && num(11..13) < 24
        && num(14..16) < 60
        && num(17..19) < 61
}
