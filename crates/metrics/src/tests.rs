use super::*;

/// Every metric of JupyterHub 6.1.1's `metrics.py` with its type and label
/// names, as exported (`_total` on counters).
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

/// `(name, type)` of each `# TYPE` line, without the `_created` gauges.
fn families(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .filter(|(name, _)| !name.ends_with("_created") && !name.starts_with("process_"))
        .map(|(n, t)| (n.to_owned(), t.to_owned()))
        .collect()
}

/// Label names used on the samples of `family` (without `le`).
fn label_names(text: &str, family: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(family).is_some_and(|rest| {
                rest.starts_with(['{', ' ', '_']) && !rest.starts_with("_created")
            })
        })
        .filter_map(|l| l.split_once('{').map(|(_, rest)| rest))
        .flat_map(|rest| {
            rest.split(',')
                .filter_map(|pair| pair.split_once('=').map(|(n, _)| n.to_owned()))
                .collect::<Vec<_>>()
        })
        .filter(|n| n != "le")
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn names_types_and_labels_match_upstream() {
    let metrics = HubMetrics::new("jupyterhub", &SPAWN_BUCKETS, &STOP_BUCKETS);
    metrics.request_duration.observe(
        &["GET", "jupyterhub.apihandlers.users.SelfAPIHandler", "200"],
        0.01,
    );
    metrics.login_duration.observe(&["success"], 0.2);
    let text = metrics.encode();
    let expected: Vec<(String, String)> = UPSTREAM
        .iter()
        .map(|(n, t, _)| (format!("jupyterhub_{n}"), (*t).to_owned()))
        .collect();
    assert_eq!(families(&text), expected);
    for (name, _, labels) in UPSTREAM {
        let found = label_names(&text, &format!("jupyterhub_{name}"));
        let want: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        assert_eq!(found, want, "labels of {name}");
    }
}

#[test]
fn the_prefix_names_every_family() {
    let metrics = HubMetrics::new("myhub", &SPAWN_BUCKETS, &STOP_BUCKETS);
    let text = metrics.encode();
    for (name, _) in families(&text) {
        assert!(name.starts_with("myhub_"), "{name}");
    }
    assert!(text.contains("myhub_csp_reports_total 0.0"), "{text}");
}

#[test]
fn upstream_precreates_status_and_reason_series() {
    let text = HubMetrics::new("jupyterhub", &SPAWN_BUCKETS, &STOP_BUCKETS).encode();
    for line in [
        r#"jupyterhub_server_spawn_duration_seconds_count{reason="",status="error"} 0.0"#,
        r#"jupyterhub_server_spawn_duration_seconds_count{reason="throttled",status="failure"} 0.0"#,
        r#"jupyterhub_server_spawn_duration_seconds_count{reason="too-many-users",status="failure"} 0.0"#,
        r#"jupyterhub_server_spawn_duration_seconds_count{reason="already-pending",status="failure"} 0.0"#,
        r#"jupyterhub_server_poll_duration_seconds_count{status="stopped"} 0.0"#,
        r#"jupyterhub_active_users{period="30d"} 0.0"#,
        "jupyterhub_running_servers 0.0",
    ] {
        assert!(text.contains(line), "missing {line}");
    }
}

#[test]
fn histograms_are_cumulative_with_upstream_buckets() {
    let metrics = HubMetrics::new("jupyterhub", &SPAWN_BUCKETS, &STOP_BUCKETS);
    let spawn = &metrics.server_spawn_duration;
    spawn.observe(&["success", ""], 3.0);
    spawn.observe(&["success", ""], 700.0);
    let text = metrics.encode();
    let bucket = |le: &str| {
        format!(
            r#"jupyterhub_server_spawn_duration_seconds_bucket{{le="{le}",reason="",status="success"}}"#
        )
    };
    assert!(text.contains(&format!("{} 0.0", bucket("2.5"))), "{text}");
    assert!(text.contains(&format!("{} 1.0", bucket("5.0"))));
    assert!(text.contains(&format!("{} 1.0", bucket("600.0"))));
    assert!(text.contains(&format!("{} 2.0", bucket("+Inf"))));
    assert!(text.contains(
        r#"jupyterhub_server_spawn_duration_seconds_sum{reason="",status="success"} 703.0"#
    ));
    assert_eq!(spawn.count(&["success", ""]), 2);
    let les: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("jupyterhub_event_loop_interval_seconds_bucket"))
        .filter_map(|l| l.split("le=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(
        les,
        [
            "0.05", "0.055", "0.06", "0.065", "0.07", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0",
            "2.5", "5.0", "7.5", "10.0", "+Inf"
        ]
    );
}

#[test]
fn bucket_variables_parse_like_upstream() {
    assert_eq!(
        parse_buckets("1, 5,10").unwrap(),
        [1.0, 5.0, 10.0, f64::INFINITY]
    );
    assert_eq!(parse_buckets("0.5,inf").unwrap(), [0.5, f64::INFINITY]);
    assert!(parse_buckets("5,1").is_err());
    assert!(parse_buckets("a,b").is_err());
}

#[test]
fn process_metrics_describe_this_process() {
    let text = HubMetrics::new("jupyterhub", &SPAWN_BUCKETS, &STOP_BUCKETS).encode();
    let rss: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
        .expect("rss exported")
        .parse()
        .unwrap();
    assert!(
        rss > 1_000_000.0,
        "a test binary uses more than 1 MB: {rss}"
    );
}
