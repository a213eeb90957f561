//! A real local user logs in through PAM and gets a server running under
//! their own uid, reachable through the proxy. Runs as root (CI does).

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
