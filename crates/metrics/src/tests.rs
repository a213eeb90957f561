use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// What JupyterHub 6.1.1 itself exports after the observations in
/// [`observe_like_the_fixture`]: generated in the test virtualenv by importing
/// `jupyterhub.metrics`, making those observations the way upstream's handlers
/// make them (e.g. `LOGIN_DURATION_SECONDS.labels(status=LoginStatus.success)`),
/// and writing `prometheus_client.generate_latest()` without the `python_*`
/// families (see the file's header for the versions).
const UPSTREAM_EXPOSITION: &str = include_str!("testdata/upstream-6.1.1.prom");

/// Every metric of JupyterHub 6.1.1's `metrics.py` with its type and label
/// names, as exported (`_total` on counters), copied from `metrics.py`.
const UPSTREAM: [(&str, &str, &[&str]); 17] = [
    (
        "request_duration_seconds",
        "histogram",
        &["code", "handler", "method"],
    ),
    (
        "server_spawn_duration_seconds",
        "histogram",
        &["reason", "status"],
    ),
    ("running_servers", "gauge", &[]),
    ("total_users", "gauge", &[]),
    ("active_users", "gauge", &["period"]),
    ("check_routes_duration_seconds", "histogram", &[]),
    ("hub_startup_duration_seconds", "histogram", &[]),
    ("init_spawners_duration_seconds", "histogram", &[]),
    ("proxy_poll_duration_seconds", "histogram", &[]),
    ("login_duration_seconds", "histogram", &["status"]),
    ("logout_duration_seconds", "histogram", &[]),
    ("csp_reports_total", "counter", &[]),
    ("proxy_add_duration_seconds", "histogram", &["status"]),
    ("server_poll_duration_seconds", "histogram", &["status"]),
    ("server_stop_seconds", "histogram", &["status"]),
    ("proxy_delete_duration_seconds", "histogram", &["status"]),
    ("event_loop_interval_seconds", "histogram", &[]),
];

/// The observations the fixture was generated with, made through our API.
fn observe_like_the_fixture(metrics: &HubMetrics) {
    metrics.request_duration.observe(
        RequestLabels {
            method: "GET".into(),
            handler: "jupyterhub.apihandlers.users.UserListAPIHandler",
            code: 200,
        },
        0.01,
    );
    metrics.login_duration.observe(LoginStatus::Success, 0.2);
    metrics
        .server_poll_duration
        .observe(PollStatus::running(true), 0.003);
    metrics
        .server_spawn_duration
        .observe(SpawnLabels::SUCCESS, 3.0);
    metrics
        .server_spawn_duration
        .observe(SpawnLabels::SUCCESS, 700.0);
    metrics.csp_reports.inc();
}

/// `# HELP` and `# TYPE` lines, as a set.
fn headers(text: &str) -> BTreeSet<&str> {
    text.lines()
        .filter(|l| l.starts_with("# HELP ") || l.starts_with("# TYPE "))
        .collect()
}

/// Sample series (name and labels) → value; `_created` timestamps and the
/// process' own numbers are reduced to their series.
fn samples(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.rsplit_once(' ').expect("sample has a value"))
        .map(|(series, value)| {
            let name = series.split('{').next().unwrap_or(series);
            if name.ends_with("_created") || name.starts_with("process_") {
                (series, "*")
            } else {
                (series, value)
            }
        })
        .collect()
}

fn fixture_metrics() -> HubMetrics {
    let metrics = HubMetrics::new("jupyterhub", &SPAWN_BUCKETS, &STOP_BUCKETS);
    observe_like_the_fixture(&metrics);
    metrics
}

#[test]
fn exposition_matches_what_jupyterhub_exports() {
    let ours = fixture_metrics().encode();
    let theirs = UPSTREAM_EXPOSITION;
    let (ours_h, theirs_h) = (headers(&ours), headers(theirs));
    assert_eq!(
        ours_h.difference(&theirs_h).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "headers only we write"
    );
    assert_eq!(
        theirs_h.difference(&ours_h).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "headers only upstream writes"
    );
    let (ours_s, theirs_s) = (samples(&ours), samples(theirs));
    let only_ours: Vec<_> = ours_s
        .iter()
        .filter(|s| !theirs_s.contains_key(s.0))
        .collect();
    let only_theirs: Vec<_> = theirs_s
        .iter()
        .filter(|s| !ours_s.contains_key(s.0))
        .collect();
    assert!(
        only_ours.is_empty(),
        "series only we export: {only_ours:#?}"
    );
    assert!(
        only_theirs.is_empty(),
        "series only upstream exports: {only_theirs:#?}"
    );
    for (series, value) in &theirs_s {
        assert_eq!(ours_s[series], *value, "{series}");
    }
}

/// The families and labels of `metrics.py`, independent of the fixture.
#[test]
fn the_seventeen_families_of_metrics_py() {
    let text = fixture_metrics().encode();
    let types: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .filter(|(name, _)| !name.ends_with("_created") && !name.starts_with("process_"))
        .collect();
    let expected: Vec<(String, &str)> = UPSTREAM
        .iter()
        .map(|(n, t, _)| (format!("jupyterhub_{n}"), *t))
        .collect();
    let expected: Vec<(&str, &str)> = expected.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    assert_eq!(types, expected);
    for (name, _, labels) in UPSTREAM {
        let family = format!("jupyterhub_{name}");
        let mut found: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.strip_prefix(family.as_str()).is_some_and(|rest| {
                    rest.starts_with(['{', ' ', '_']) && !rest.starts_with("_created")
                })
            })
            .filter_map(|l| l.split_once('{').map(|(_, rest)| rest))
            .flat_map(|rest| {
                rest.split(',')
                    .filter_map(|pair| pair.split_once('=').map(|(n, _)| n))
            })
            .filter(|n| *n != "le")
            .collect();
        found.sort_unstable();
        found.dedup();
        assert_eq!(found, labels, "labels of {name}");
    }
}

#[test]
fn label_types_name_the_labels_of_metrics_py() {
    assert_eq!(RequestLabels::NAMES, ["method", "handler", "code"]);
    assert_eq!(SpawnLabels::NAMES, ["status", "reason"]);
    assert_eq!(Period::NAMES, ["period"]);
    for names in [Outcome::NAMES, LoginStatus::NAMES, PollStatus::NAMES] {
        assert_eq!(names, ["status"]);
    }
    let periods: Vec<&str> = Period::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(periods, ["24h", "7d", "30d"]);
    let reasons: Vec<&str> = SpawnReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "",
            "throttled",
            "too-many-users",
            "already-pending",
            "timeout",
            "error",
            "exited"
        ]
    );
}

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn the_prefix_variable_names_every_family() {
    let metrics = HubMetrics::from_vars(vars(&[("JUPYTERHUB_METRICS_PREFIX", "myhub")])).unwrap();
    let text = metrics.encode();
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .filter(|n| !n.starts_with("process_"))
        .collect();
    assert_eq!(families.len(), 17 + 14, "17 families, 14 `_created` gauges");
    for name in families {
        assert!(name.starts_with("myhub_"), "{name}");
    }
    assert!(text.contains("\nmyhub_csp_reports_total 0.0\n"), "{text}");
    let default = HubMetrics::from_vars(vars(&[("JUPYTERHUB_METRICS_PREFIX", " ")])).unwrap();
    assert!(default.encode().contains("\njupyterhub_total_users 0.0\n"));
}

/// The `le` values of `family`'s first series.
fn les(text: &str, family: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(&format!("{family}_bucket{{")) {
            let le = rest.split("le=\"").nth(1).and_then(|v| v.split('"').next());
            let le = le.expect("bucket has le").to_owned();
            if seen.contains(&le) {
                break;
            }
            seen.push(le);
        }
    }
    seen
}

#[test]
fn upstream_buckets_and_the_bucket_variables() {
    let text = fixture_metrics().encode();
    assert_eq!(
        les(&text, "jupyterhub_server_spawn_duration_seconds"),
        [
            "0.5", "1.0", "2.5", "5.0", "10.0", "15.0", "30.0", "60.0", "120.0", "180.0", "300.0",
            "600.0", "+Inf"
        ]
    );
    assert_eq!(
        les(&text, "jupyterhub_server_stop_seconds"),
        les(&text, "jupyterhub_request_duration_seconds"),
        "stop uses Prometheus' default buckets"
    );
    assert_eq!(
        les(&text, "jupyterhub_event_loop_interval_seconds"),
        [
            "0.05", "0.055", "0.06", "0.065", "0.07", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0",
            "2.5", "5.0", "7.5", "10.0", "+Inf"
        ]
    );

    let custom = HubMetrics::from_vars(vars(&[
        (
            "JUPYTERHUB_SERVER_SPAWN_DURATION_SECONDS_BUCKETS",
            "1, 5,10",
        ),
        ("JUPYTERHUB_SERVER_STOP_DURATION_SECONDS_BUCKETS", "0.5,inf"),
    ]))
    .unwrap();
    let text = custom.encode();
    assert_eq!(
        les(&text, "jupyterhub_server_spawn_duration_seconds"),
        ["1.0", "5.0", "10.0", "+Inf"]
    );
    assert_eq!(
        les(&text, "jupyterhub_server_stop_seconds"),
        ["0.5", "+Inf"]
    );
    let bad = HubMetrics::from_vars(vars(&[(
        "JUPYTERHUB_SERVER_STOP_DURATION_SECONDS_BUCKETS",
        "5,1",
    )]));
    assert!(
        bad.unwrap_err()
            .contains("JUPYTERHUB_SERVER_STOP_DURATION_SECONDS_BUCKETS")
    );
}

#[test]
fn bucket_lists_parse_as_python_float_does() {
    assert_eq!(
        parse_buckets("1, 5,10").unwrap(),
        [1.0, 5.0, 10.0, f64::INFINITY]
    );
    assert_eq!(parse_buckets("0.5,Infinity").unwrap(), [0.5, f64::INFINITY]);
    assert_eq!(parse_buckets("1e-3,+inf").unwrap(), [0.001, f64::INFINITY]);
    assert!(parse_buckets("5,1").is_err(), "not increasing");
    assert!(parse_buckets("1,1").is_err(), "not increasing");
    assert!(parse_buckets("a,b").is_err());
    assert!(parse_buckets("nan").is_err());
    assert!(
        parse_buckets("inf").is_err(),
        "prometheus_client needs two buckets"
    );
}

#[test]
fn histograms_count_cumulatively() {
    let metrics = fixture_metrics();
    let spawn = &metrics.server_spawn_duration;
    assert_eq!(spawn.count(&SpawnLabels::SUCCESS), 2);
    assert_eq!(
        spawn.count(&SpawnLabels::failure(SpawnReason::Throttled)),
        0
    );
    let text = metrics.encode();
    let bucket = |le: &str| {
        format!(
            "\njupyterhub_server_spawn_duration_seconds_bucket{{le=\"{le}\",reason=\"\",status=\"success\"}}"
        )
    };
    assert!(text.contains(&format!("{} 0.0\n", bucket("2.5"))), "{text}");
    assert!(text.contains(&format!("{} 1.0\n", bucket("5.0"))));
    assert!(text.contains(&format!("{} 1.0\n", bucket("600.0"))));
    assert!(text.contains(&format!("{} 2.0\n", bucket("+Inf"))));
}

#[test]
fn process_metrics_describe_this_process() {
    let text = HubMetrics::new("jupyterhub", &SPAWN_BUCKETS, &STOP_BUCKETS).encode();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} exported"))
            .parse()
            .unwrap()
    };
    let rss = value("process_resident_memory_bytes");
    assert!(
        rss > 1_000_000.0,
        "a test binary uses more than 1 MB: {rss}"
    );
    assert!(value("process_max_fds") >= value("process_open_fds"));
}
