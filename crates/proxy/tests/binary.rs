//! The `ferrohub-proxy` executable: command line, pid file, signals, exit codes.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrohub-proxy");

fn free_port() -> u16 {
    support::dead_port()
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ferrohub-proxy-test-{}-{name}", std::process::id()))
}

/// Kills the child if a test fails before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        support::kill_and_reap(&mut self.0, "ferrohub-proxy");
    }
}

async fn wait_for_api(http: &reqwest::Client, url: &str) -> reqwest::Response {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match http
            .get(url)
            .header("Authorization", format!("token {}", support::TOKEN))
            .send()
            .await
        {
            Ok(response) => return response,
            Err(e) if Instant::now() > deadline => panic!("API never answered: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test]
async fn runs_writes_pid_and_exits_2_on_sigterm() {
    let backend = support::echo_backend("default").await;
    let (port, api_port) = (free_port(), free_port());
    let pid_file = temp_path("pid");
    let child = Command::new(BIN)
        .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
        .args(["--api-port", &api_port.to_string()])
        .args(["--default-target", &backend.url("")])
        .arg("--pid-file")
        .arg(&pid_file)
        .args(["--log-level", "warn"])
        .env("CONFIGPROXY_AUTH_TOKEN", support::TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut child = Running(child);
    let http = support::client();

    let routes = wait_for_api(&http, &format!("http://127.0.0.1:{api_port}/api/routes")).await;
    assert_eq!(routes.status(), 200);
    let routes: serde_json::Value = routes.json().await.expect("JSON");
    assert_eq!(routes["/"]["target"], backend.url(""));
    let anonymous = http
        .get(format!("http://127.0.0.1:{api_port}/api/routes"))
        .send()
        .await
        .expect("GET");
    assert_eq!(anonymous.status(), 403, "token from CONFIGPROXY_AUTH_TOKEN");

    let proxied = http
        .get(format!("http://127.0.0.1:{port}/hub/x?y=1"))
        .send()
        .await
        .expect("GET");
    assert_eq!(proxied.status(), 200);
    let seen: serde_json::Value = proxied.json().await.expect("JSON");
    assert_eq!(seen["url"], "/hub/x?y=1");

    let pid = std::fs::read_to_string(&pid_file).expect("pid file");
    assert_eq!(pid, child.0.id().to_string(), "pid without newline");

    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(2));
    assert!(!pid_file.exists(), "pid file removed at exit");
}

#[test]
fn unknown_flag_exits_1_with_one_line() {
    let output = Command::new(BIN).arg("--bogus").output().expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.contains("--bogus"), "{stderr:?}");
    assert!(output.stdout.is_empty());
}

#[test]
fn tls_key_without_certificate_exits_1() {
    let output = Command::new(BIN)
        .args(["--ssl-key", "x"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert!(
        stderr.contains("--ssl-key was given without --ssl-cert"),
        "{stderr:?}"
    );
}

#[test]
fn help_and_version() {
    let help = Command::new(BIN).arg("--help").output().expect("run");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--default-target"));
    let version = Command::new(BIN).arg("--version").output().expect("run");
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        env!("CARGO_PKG_VERSION")
    );
}

#[test]
fn port_in_use_exits_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let output = Command::new(BIN)
        .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
        .args(["--api-port", &free_port().to_string()])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen"));
}

/// Reads the child's stdout lines on a thread, so the test can wait for them.
fn line_reader(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle`, returning it.
fn wait_line(lines: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with {needle:?}: {e}"),
        }
    }
}

#[tokio::test]
async fn logs_like_chp_and_exits_2_on_sigint() {
    let mut child = Command::new(BIN)
        .args(["--ip=127.0.0.1", "--port=0", "--api-port=0"])
        .env("CONFIGPROXY_AUTH_TOKEN", support::TOKEN)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let lines = line_reader(&mut child);
    let mut child = Running(child);

    let proxying = wait_line(&lines, "Proxying http://127.0.0.1:");
    assert!(proxying.ends_with(" to (no default)"), "{proxying}");
    assert!(
        proxying.contains(" [ConfigProxy] info: "),
        "CHP's line shape: {proxying}"
    );
    let api_line = wait_line(&lines, "Proxy API at http://127.0.0.1:");
    let api = api_line
        .split("Proxy API at ")
        .nth(1)
        .expect("url")
        .to_owned();

    let http = support::client();
    let added = http
        .post(format!("{api}/user/alice"))
        .header("Authorization", format!("token {}", support::TOKEN))
        .body(r#"{"target": "http://127.0.0.1:9"}"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(added.status(), 201);
    wait_line(&lines, "Route added /user/alice -> http://127.0.0.1:9");
    wait_line(&lines, "201 POST /api/routes/user/alice");
    let refused = http.get(&api).send().await.expect("GET");
    assert_eq!(refused.status(), 403);
    let access = wait_line(&lines, "403 GET /api/routes");
    assert!(access.contains("[ConfigProxy] warn: "), "{access}");

    let signalled = Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(signalled.success());
    wait_line(&lines, "Exiting on SIGINT");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after SIGINT");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(2));
}

#[test]
fn both_error_flags_are_refused() {
    let output = Command::new(BIN)
        .args(["--error-target", "http://127.0.0.1:1/err"])
        .args(["--error-path", "/tmp"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Pick one"), "{stderr}");
}

/// Threads of a running process.
fn thread_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("/proc/<pid>/task")
        .count()
}

/// Pinned to one CPU (`taskset`, or a one-CPU container) the proxy runs on a
/// single-threaded runtime: it must still serve the API, HTTP, websockets
/// and a route listing big enough to go to the blocking pool.
#[tokio::test]
async fn on_one_cpu_everything_runs_on_one_thread() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let backend = support::echo_backend("pinned").await;
    let ws_backend = support::ws_backend().await;
    let (port, api_port) = (free_port(), free_port());
    let child = Command::new("taskset")
        .args(["-c", "0", BIN])
        .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
        .args(["--api-ip", "127.0.0.1", "--api-port", &api_port.to_string()])
        .args(["--log-level", "warn"])
        .env("CONFIGPROXY_AUTH_TOKEN", support::TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn taskset");
    let child = Running(child);
    let http = support::client();
    let api = format!("http://127.0.0.1:{api_port}/api/routes");
    wait_for_api(&http, &api).await;
    // taskset execs the proxy: same pid. A multi-threaded runtime would
    // have at least a worker thread beside the main one.
    assert_eq!(thread_count(child.0.id()), 1, "one thread on one CPU");

    let add = |path: String, target: String| {
        http.post(format!("{api}{path}"))
            .header("Authorization", format!("token {}", support::TOKEN))
            .json(&serde_json::json!({ "target": target }))
            .send()
    };
    assert_eq!(
        add("/user/a".into(), backend.url(""))
            .await
            .unwrap()
            .status(),
        201
    );
    let ws_target = format!("http://{ws_backend}");
    assert_eq!(
        add("/user/w".into(), ws_target).await.unwrap().status(),
        201
    );

    let proxied = http
        .get(format!("http://127.0.0.1:{port}/user/a/x"))
        .send()
        .await
        .expect("GET");
    assert_eq!(proxied.status(), 200);
    let seen: serde_json::Value = proxied.json().await.expect("JSON");
    assert_eq!(seen["url"], "/user/a/x");

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/user/w/ws"))
        .await
        .expect("websocket through the proxy");
    let hello = ws.next().await.expect("hello").expect("frame");
    assert!(hello.to_text().unwrap().contains("/user/w/ws"), "{hello:?}");
    ws.send(Message::text("ping")).await.unwrap();
    let echo = ws.next().await.expect("echo").expect("frame");
    assert_eq!(echo.to_text().unwrap(), "ping");

    // Over 1,000 routes: the listing is serialised on the blocking pool.
    for i in 0..1100 {
        let status = add(format!("/user/u{i}"), backend.url(""))
            .await
            .unwrap()
            .status();
        assert_eq!(status, 201);
    }
    let listing: serde_json::Value = http
        .get(&api)
        .header("Authorization", format!("token {}", support::TOKEN))
        .send()
        .await
        .expect("GET routes")
        .json()
        .await
        .expect("JSON");
    assert_eq!(listing.as_object().unwrap().len(), 1102);
    assert_eq!(listing["/user/u1099"]["target"], backend.url(""));
}

/// CPU time (user + system) a process has used so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("stat") + 2..]
        .split_whitespace()
        .collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// Starts the proxy with `extra` flags and one route to `target`; returns
/// the running child and its public port.
async fn proxy_with_route(http: &reqwest::Client, extra: &[&str], target: &str) -> (Running, u16) {
    proxy_with_route_logging(http, extra, target, Stdio::null()).await
}

/// [`proxy_with_route`] with the proxy's log (on its stdout, as CHP's),
/// its busy-poller's debug lines included, to `log`.
async fn proxy_with_route_logging(
    http: &reqwest::Client,
    extra: &[&str],
    target: &str,
    log: impl Into<Stdio>,
) -> (Running, u16) {
    let (port, api_port) = (free_port(), free_port());
    let child = Command::new(BIN)
        .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
        .args(["--api-ip", "127.0.0.1", "--api-port", &api_port.to_string()])
        .args(["--log-level", "warn"])
        .args(extra)
        .env("CONFIGPROXY_AUTH_TOKEN", support::TOKEN)
        .env("RUST_LOG", "warn,ferrohub_proxy::busy_poll=debug")
        .stdout(log)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let child = Running(child);
    let api = format!("http://127.0.0.1:{api_port}/api/routes");
    wait_for_api(http, &api).await;
    let added = http
        .post(format!("{api}/user/a"))
        .header("Authorization", format!("token {}", support::TOKEN))
        .json(&serde_json::json!({ "target": target }))
        .send()
        .await
        .expect("POST route");
    assert_eq!(added.status(), 201);
    (child, port)
}

/// Requests through `port` one at a time, a millisecond apart, for `span`;
/// returns the proxy's CPU time meanwhile.
async fn paced_requests(http: &reqwest::Client, pid: u32, port: u16, span: Duration) -> Duration {
    let before = cpu_time(pid);
    let end = Instant::now() + span;
    while Instant::now() < end {
        let response = http
            .get(format!("http://127.0.0.1:{port}/user/a/x"))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), 200);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    cpu_time(pid).saturating_sub(before)
}

/// `--busy-poll`: while requests come a millisecond apart the proxy keeps
/// polling (far more CPU than the same traffic costs without it, on one
/// thread) unless another task wants its CPU, proxies as usual, and once
/// traffic stops it sleeps again.
#[tokio::test]
async fn busy_poll_polls_while_traffic_flows_and_sleeps_when_it_stops() {
    let backend = support::echo_backend("busy").await;
    let http = support::client();
    let (plain, plain_port) = proxy_with_route(&http, &[], &backend.url("")).await;
    let log = std::env::temp_dir().join(format!("ferrohub-busy-poll-{}.log", std::process::id()));
    let (busy, busy_port) = proxy_with_route_logging(
        &http,
        &["--busy-poll", "5000"],
        &backend.url(""),
        std::fs::File::create(&log).expect("a log file"),
    )
    .await;
    assert_eq!(
        thread_count(busy.0.id()),
        1,
        "--busy-poll runs on one thread"
    );

    let span = Duration::from_millis(1500);
    let plain_cpu = paced_requests(&http, plain.0.id(), plain_port, span).await;
    let busy_cpu = paced_requests(&http, busy.0.id(), busy_port, span).await;
    // This test's own requests, and other tests, share the proxy's CPUs;
    // the spinner gives way to them, and says so in its debug log.
    let logged = std::fs::read_to_string(&log).expect("the proxy's log");
    std::fs::remove_file(&log).ok();
    let gave_way = logged.contains("busy-poll: another task wants this CPU");
    assert!(
        gave_way || (busy_cpu >= Duration::from_millis(300) && busy_cpu > plain_cpu * 3),
        "polling should cost CPU while traffic flows, unless it gave way: \
         {busy_cpu:?} with --busy-poll, {plain_cpu:?} without; its log:\n{logged}"
    );

    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = cpu_time(busy.0.id());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = cpu_time(busy.0.id()).saturating_sub(before);
    assert!(
        idle <= Duration::from_millis(50),
        "an idle proxy must sleep, not poll: {idle:?} of CPU in 1 s"
    );
}

/// Reads an HTTP head byte by byte, so nothing after it is consumed.
fn read_head(socket: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        socket.read_exact(&mut byte).expect("an HTTP head");
        head.push(byte[0]);
    }
    head
}

/// A websocket target that answers any upgrade with `101`, then reads
/// what comes until the end with one `read` call at a time: returns the
/// bytes and how many reads they took.
fn counting_ws_target() -> (u16, std::thread::JoinHandle<(Vec<u8>, usize)>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().expect("accept");
        read_head(&mut socket);
        socket
            .write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
            )
            .expect("101");
        let (mut got, mut reads, mut buf) = (Vec::new(), 0, vec![0u8; 1 << 16]);
        loop {
            match socket.read(&mut buf).expect("read") {
                0 => return (got, reads),
                n => {
                    got.extend_from_slice(&buf[..n]);
                    reads += 1;
                }
            }
        }
    });
    (port, handle)
}

/// Sends `messages` 100-byte pieces through the proxy's websocket on
/// `port`, each in its own write, 20 µs apart (a kernel streaming output);
/// returns what was sent.
fn stream_small_messages(port: u16, messages: usize) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    socket.set_nodelay(true).expect("nodelay");
    socket
        .write_all(
            b"GET /user/a/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .expect("upgrade request");
    let head = read_head(&mut socket);
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let mut sent = Vec::new();
    for i in 0..messages {
        let message = [u8::try_from(i % 251).expect("byte"); 100];
        socket.write_all(&message).expect("write");
        sent.extend_from_slice(&message);
        let next = Instant::now() + Duration::from_micros(20);
        while Instant::now() < next {
            std::hint::spin_loop();
        }
    }
    socket
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    // The proxy passes the end on; the target then closes its side.
    socket
        .read_to_end(&mut Vec::new())
        .expect("the end passed back");
    sent
}

/// Websocket streams of small messages reach the target in larger writes
/// (`--ws-gather`, on by default), unchanged and in order; with
/// `--ws-gather=0` the bytes pass just the same.
#[tokio::test]
async fn a_websocket_stream_reaches_the_target_in_larger_writes() {
    let http = support::client();
    for (flags, gathered) in [(&[][..], true), (&["--ws-gather=0"][..], false)] {
        let (target_port, target) = counting_ws_target();
        let (_proxy, port) =
            proxy_with_route(&http, flags, &format!("http://127.0.0.1:{target_port}")).await;
        let sent = tokio::task::spawn_blocking(move || stream_small_messages(port, 1000))
            .await
            .expect("client");
        let (got, reads) = target.join().expect("target");
        assert!(
            got == sent,
            "{flags:?}: the target got {} bytes, not the {} sent in order",
            got.len(),
            sent.len()
        );
        if gathered {
            assert!(
                reads <= 200,
                "1,000 messages 20 µs apart took {reads} reads at the target: not gathered"
            );
        }
    }
}
