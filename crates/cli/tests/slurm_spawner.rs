//! SlurmSpawner end to end: the real hub binary with `spawner_class =
//! "batchspawner.SlurmSpawner"`, a real Slurm cluster (munged, slurmctld,
//! slurmd; support/slurm.rs), real local users, and inside each job the
//! real `batchspawner-singleuser` wrapper from PyPI starting the real
//! `jupyterhub-singleuser` and reporting its port to
//! `POST /hub/api/batchspawner`.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::fmt::Write as _;

use nix::sys::signal::Signal;
use reqwest::Method;
use serde_json::Value;
use support::TestHub;
use support::browser::Browser;
use support::slurm;
use support::users::LocalUser;

/// The hub configured for Slurm; jobs are submitted as the user directly
/// (a root hub, empty `exec_prefix`: no sudo on these machines).
fn slurm_hub(extra: &str) -> TestHub {
    slurm::shared();
    let venv = support::venv();
    let slurm_section = format!(
        "exec_prefix = \"\"\nbatchspawner_singleuser_cmd = \"{}/bin/batchspawner-singleuser\"\nstartup_poll_interval = 0.2\n{extra}",
        venv.display()
    );
    TestHub::start_with(
        "dummy",
        "batchspawner.SlurmSpawner",
        &[("SlurmSpawner", &slurm_section)],
    )
}

/// The user's jobs in the queue: `(job id, state)`.
fn jobs_of(user: &str) -> Vec<(String, String)> {
    slurm::queue()
        .into_iter()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (id, state, owner) = (words.next()?, words.next()?, words.next()?);
            (owner == user).then(|| (id.to_owned(), state.to_owned()))
        })
        .collect()
}

/// Starts the server through the API and, while it starts, follows its
/// progress stream until it says ready or failed; returns the events.
async fn start_and_follow(browser: &Browser, user: &str) -> Vec<Value> {
    let start = browser
        .hub_api(Method::POST, &format!("/users/{user}/server"))
        .send();
    // The POST waits up to 10 s for the spawn; follow the stream meanwhile.
    let (started, events) = tokio::join!(start, follow(browser, user, |_| false));
    let started = started.unwrap();
    assert!(
        matches!(started.status().as_u16(), 201 | 202 | 500),
        "start {user}: {}",
        started.status()
    );
    events
}

/// The progress events of `user`'s spawn, from as soon as it is pending,
/// until one says ready or failed or satisfies `enough`.
async fn follow(browser: &Browser, user: &str, enough: impl Fn(&Value) -> bool) -> Vec<Value> {
    support::eventually(30, "the spawn to be pending", || async {
        let model = server_state(browser, user).await;
        (model["servers"][""]["pending"] == "spawn").then_some(())
    })
    .await;
    let response = browser
        .hub_api(Method::GET, &format!("/users/{user}/server/progress"))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    support::api::progress_events(response, enough).await
}

/// The output files of `user`'s jobs (batch_script's `--output`), for failure messages.
fn job_logs(user: &str) -> String {
    let home = format!("/home/{user}");
    let mut logs = String::new();
    for entry in std::fs::read_dir(&home).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("jupyterhub_slurmspawner_") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            writeln!(logs, "--- {name}\n{text}").unwrap();
        }
    }
    logs
}

fn messages(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect()
}

async fn server_state(browser: &Browser, user: &str) -> Value {
    browser
        .hub_api(
            Method::GET,
            &format!("/users/{user}?include_stopped_servers"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_runs_as_a_slurm_job_of_its_user_and_stop_cancels_it() {
    let user = LocalUser::create("slurm");
    let name = user.name.as_str();
    let hub = slurm_hub("");
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login(name, "pw", None).await.status(), 302);

    let events = start_and_follow(&browser, name).await;
    let said = messages(&events);
    assert_eq!(
        events.last().unwrap()["ready"],
        true,
        "{said:?}\n{}\n{}",
        hub.log(),
        job_logs(name)
    );
    let jobs = jobs_of(name);
    assert_eq!(
        jobs.len(),
        1,
        "one job, owned by the user: {:?}",
        slurm::queue()
    );
    let (job_id, state) = &jobs[0];
    assert_eq!(state, "RUNNING");
    assert!(
        said.iter()
            .any(|m| m.starts_with(&format!("Job {job_id} running on "))),
        "the queue state reached the progress stream: {said:?}"
    );

    // The hub's proxy reaches the server in the job: JupyterLab (after the
    // server's OAuth login through the hub), then its API.
    let lab = browser
        .follow
        .get(format!("{}/user/{name}/lab", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(lab.status(), 200, "{}\n{}", hub.log(), job_logs(name));
    let status = browser
        .follow
        .get(format!("{}/user/{name}/api/status", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200, "{}\n{}", hub.log(), job_logs(name));
    assert_eq!(
        browser.run_code(name, "import os; os.getuid()").await,
        user.uid().to_string()
    );
    let target = hub.routes().await[format!("/user/{name}")]["target"]
        .as_str()
        .unwrap()
        .to_owned();
    let host = slurm::client("hostname", &["-s"]).unwrap();
    assert!(
        target.starts_with(&format!("http://{host}:")),
        "routed to the job's host: {target}"
    );

    browser.stop_server(name).await;
    support::eventually(60, "the job to leave the queue", || async {
        jobs_of(name).is_empty().then_some(())
    })
    .await;
    let model = server_state(&browser, name).await;
    assert!(
        model["servers"].get("").is_none_or(|s| s["ready"] != true),
        "{model}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_hub_adopts_the_running_job_without_submitting_again() {
    let user = LocalUser::create("slrst");
    let name = user.name.as_str();
    let mut hub = slurm_hub("");
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login(name, "pw", None).await.status(), 302);
    browser.start_server(name).await;
    let before = jobs_of(name);
    assert_eq!(before.len(), 1, "{:?}", slurm::queue());

    let status = hub.kill(Signal::SIGKILL);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    hub.launch();
    let model = server_state(&browser, name).await;
    assert_eq!(model["servers"][""]["ready"], true, "re-adopted: {model}");
    assert_eq!(jobs_of(name), before, "the same job, none submitted again");
    assert_eq!(
        hub.log().matches("batch job submitted").count(),
        1,
        "one submission over both hubs"
    );
    let lab = browser
        .follow
        .get(format!("{}/user/{name}/lab", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(lab.status(), 200, "still served after the restart");
    assert_eq!(browser.run_code(name, "6*7").await, "42");

    // scancel behind the hub's back: the poll sees the job gone.
    let job_id = &before[0].0;
    assert!(slurm::client("scancel", &[job_id]).is_some());
    support::eventually(60, "the hub to notice the cancelled job", || async {
        let model = server_state(&browser, name).await;
        (model["servers"].get("").is_none_or(|s| s["ready"] != true)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_the_batch_system_refuses_fails_the_spawn_with_its_reason() {
    let user = LocalUser::create("slbad");
    let name = user.name.as_str();
    let hub = slurm_hub("req_partition = \"no-such-partition\"\n");
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login(name, "pw", None).await.status(), 302);
    // sbatch refuses at once, so the start request itself fails (upstream's 500).
    let started = browser
        .hub_api(Method::POST, &format!("/users/{name}/server"))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 500);
    let body: Value = started.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert_eq!(
        message,
        "Spawn failed: the batch system refused the job: Invalid partition name specified"
    );
    let model = server_state(&browser, name).await;
    assert!(
        model["servers"].get("").is_none_or(|s| s["ready"] != true),
        "{model}"
    );
    assert!(jobs_of(name).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_pending_in_the_queue_shows_it_and_a_stop_cancels_it() {
    let user = LocalUser::create("slpend");
    let name = user.name.as_str();
    // --begin keeps the job PENDING (reason BeginTime) for an hour.
    let hub = slurm_hub("req_options = \"--begin=now+3600\"\n");
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login(name, "pw", None).await.status(), 302);
    let start = browser
        .hub_api(Method::POST, &format!("/users/{name}/server"))
        .send();
    let queued = |event: &Value| {
        event["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("queued (PENDING)"))
    };
    let (started, events) = tokio::join!(start, follow(&browser, name, queued));
    assert_eq!(started.unwrap().status(), 202, "still starting after 10 s");
    let said = messages(&events);
    let jobs = jobs_of(name);
    assert_eq!(jobs.len(), 1, "{:?}", slurm::queue());
    let (job_id, state) = &jobs[0];
    assert_eq!(state, "PENDING");
    assert!(
        said.contains(&format!("Job {job_id} queued (PENDING)")),
        "{said:?}"
    );

    browser.stop_server(name).await;
    support::eventually(60, "the pending job to be cancelled", || async {
        jobs_of(name).is_empty().then_some(())
    })
    .await;
    support::eventually(30, "the spawn to end", || async {
        let model = server_state(&browser, name).await;
        model["servers"]
            .get("")
            .is_none_or(|s| s["pending"].is_null() && s["ready"] != true)
            .then_some(())
    })
    .await;
    assert!(
        hub.log().contains("cancelling its batch job"),
        "{}",
        hub.log()
    );
}
