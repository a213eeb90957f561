//! Targets that die: a real process (`tests/data/fault_target.py`) killed
//! with SIGKILL while it is streaming a response or holding a websocket. The
//! client must see its response end (not hang), later requests get the 503
//! page at once, and a websocket client sees its connection close.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use support::proxy;

/// How long a client may wait for the proxy to notice a dead target.
const NOTICE: Duration = Duration::from_secs(5);

/// The fault target process; SIGKILLed on drop if a test has not done it.
struct Target {
    child: Child,
    port: u16,
}

impl Target {
    fn start() -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fault_target.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the fault target");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the target prints its port");
        let port = line.trim().parse().expect("a port number");
        Self { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as the OOM killer or a crash would end it.
    fn kill(&mut self) {
        // `Child::kill` is SIGKILL on Unix.
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        support::kill_and_reap(&mut self.child, "the target");
    }
}

#[tokio::test]
async fn target_killed_mid_response_ends_the_response_then_503() {
    let mut target = Target::start();
    let proxy = proxy().await;
    proxy.add_route("/user/alice", &target.url()).await;

    assert_eq!(proxy.get("/user/alice/ok").await.status(), 200);
    let mut response = proxy.get("/user/alice/stream").await;
    assert_eq!(response.status(), 200);
    let first = tokio::time::timeout(NOTICE, response.chunk())
        .await
        .expect("first bytes")
        .expect("no error yet")
        .expect("a chunk");
    assert!(!first.is_empty());

    target.kill();
    let started = Instant::now();
    let ended = tokio::time::timeout(NOTICE, async {
        loop {
            match response.chunk().await {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    })
    .await
    .expect("the response ends once the target is dead, instead of hanging");
    assert!(
        ended.is_err(),
        "a response cut short must not look complete (1,000 of 1,000,000 bytes)"
    );

    // The route stays; its target is gone: the 503 page, promptly.
    let page = proxy.get("/user/alice/lab").await;
    assert_eq!(page.status(), 503);
    assert!(page.text().await.unwrap().contains("503:"));
    assert!(started.elapsed() < NOTICE, "{:?}", started.elapsed());
}

#[tokio::test]
async fn target_killed_under_a_websocket_closes_the_client() {
    let mut target = Target::start();
    let proxy = proxy().await;
    proxy.add_route("/user/bob", &target.url()).await;

    let (mut ws, response) = tokio_tungstenite::connect_async(proxy.ws_url("/user/bob/ws"))
        .await
        .expect("websocket through the proxy");
    assert_eq!(response.status(), 101);
    let hello = tokio::time::timeout(NOTICE, ws.next())
        .await
        .expect("greeting")
        .expect("open")
        .expect("frame");
    assert_eq!(hello.to_text().unwrap(), "hello");

    target.kill();
    let closed = tokio::time::timeout(NOTICE, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(message)) if message.is_close() => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the client's websocket closes when the target dies"
    );

    // A new websocket to the dead target: a bare 503.
    match tokio_tungstenite::connect_async(proxy.ws_url("/user/bob/ws")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!("expected 503, got {other:?}"),
    }
}
