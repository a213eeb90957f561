//! A real local user logs in through PAM and gets a server running under
//! their own uid, reachable through the proxy. Runs as root (CI does).
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use support::browser::Browser;
use support::users::LocalUser;
use support::{TestHub, eventually};

fn proc_status_field(pid: i32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn pam_login_spawns_as_the_user_and_the_kernel_answers() {
    let user = LocalUser::create("pam");
    let allowed = format!("allowed_users = [\"{}\"]", user.name);
    let hub = TestHub::start_with("pam", "localprocess", &[("Authenticator", &allowed)]);
    let browser = Browser::new(&hub.public_url());

    // A wrong password: 403 and the form again, no cookie.
    let wrong = browser.login(&user.name, "not-the-password", None).await;
    assert_eq!(wrong.status(), 403);
    assert!(
        wrong
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("jupyterhub-hub-login"))
    );
    let page = wrong.text().await.unwrap();
    assert!(
        page.contains("Invalid username or password") && page.contains("name=\"password\""),
        "{page}"
    );

    // The right password logs in.
    let right = browser.login(&user.name, &user.password, None).await;
    assert_eq!(
        right.status(),
        302,
        "PAM login failed; hub log:\n{}",
        hub.log()
    );

    browser.start_server(&user.name).await;

    // The server process runs as the user: uid, gid, groups, home as cwd.
    let pids = hub.server_pids(&user.name);
    assert_eq!(pids.len(), 1);
    let uid = user.uid().to_string();
    let uids: Vec<String> = proc_status_field(pids[0], "Uid")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        uids,
        [uid.clone(), uid.clone(), uid.clone(), uid],
        "real, effective, saved, fs uid"
    );
    let groups = proc_status_field(pids[0], "Groups");
    assert!(
        !groups.split_whitespace().any(|g| g == "0"),
        "root's group leaked: {groups}"
    );
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", pids[0])).unwrap();
    assert_eq!(
        cwd,
        std::path::PathBuf::from(format!("/home/{}", user.name))
    );

    // And its kernel answers through the proxy.
    let lab = browser
        .follow
        .get(format!("{}/user/{}/lab", hub.public_url(), user.name))
        .send()
        .await
        .unwrap();
    assert_eq!(lab.status(), 200);
    assert_eq!(browser.run_code(&user.name, "1+1").await, "2");

    browser.stop_server(&user.name).await;
    eventually(60, "the server process to exit", || async {
        hub.server_pids(&user.name).is_empty().then_some(())
    })
    .await;
}

/// `user` on a managed service: the hub (root) runs it as that local account,
/// with the account's home and name in its environment, and the hub's API
/// token in `JUPYTERHUB_API_TOKEN` still works for it.
#[tokio::test(flavor = "multi_thread")]
async fn a_managed_service_runs_as_its_configured_user() {
    let user = LocalUser::create("svc");
    let python = support::venv().join("bin/python");
    // The service reports who it is through the hub API and its own process.
    let script = "import os, time, urllib.request; \
        req = urllib.request.Request(os.environ['JUPYTERHUB_API_URL'] + '/user', \
        headers={'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN']}); \
        body = urllib.request.urlopen(req).read().decode(); \
        open(os.environ['HOME'] + '/report', 'w').write(f\"{os.getuid()} {os.environ['USER']} {os.getcwd()} {body}\"); \
        time.sleep(600)";
    let services = format!(
        r#"services = [{{ name = "reporter", user = "{user}", command = ["{python}", "-c", "{script}"] }}]"#,
        user = user.name,
        python = python.display(),
        script = script.replace('"', "\\\""),
    );
    let hub = TestHub::start(&[("JupyterHub", &services)]);
    let home = format!("/home/{}", user.name);
    let report = eventually(30, "the service's report", || async {
        std::fs::read_to_string(format!("{home}/report")).ok()
    })
    .await;
    let mut fields = report.splitn(4, ' ');
    assert_eq!(
        fields.next(),
        Some(user.uid().to_string().as_str()),
        "{report}"
    );
    assert_eq!(fields.next(), Some(user.name.as_str()), "{report}");
    assert_eq!(
        fields.next(),
        Some(home.as_str()),
        "starts in its home: {report}"
    );
    let whoami: serde_json::Value = serde_json::from_str(fields.next().unwrap()).unwrap();
    assert_eq!(whoami["kind"], "service", "{report}");
    assert_eq!(whoami["name"], "reporter", "{report}");
    drop(hub);
}
