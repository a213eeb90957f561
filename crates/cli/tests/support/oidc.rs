//! A real OpenID Connect provider for the OAuth/OIDC authenticator tests:
//! npm `oidc-provider` (installed by scripts/setup.sh in `$FERROHUB_OIDC`)
//! serving `tests/idp/oidc_provider.mjs` on a free loopback port.
//!
//! Accounts: `alice` (groups `staff`) and `bob` (groups `students`), with
//! claims `preferred_username`, `email` and `groups` (and `login`,
//! `username`, `name`, `upn`, where GitHub, GitLab and Azure AD put names). The login form accepts
//! any password for them (oidc-provider's dev interactions); [`login`] drives
//! the login and consent forms over plain HTTP.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::daemon::{Daemon, spawn_tied_to_process};

/// The one client registered with the provider.
pub const CLIENT_ID: &str = "ferrohub";
/// Its client secret (`client_secret_basic` or `client_secret_post`).
pub const CLIENT_SECRET: &str = "hubsecret";
/// The redirect URI of the [`shared`] provider: nothing listens there, the
/// tests only read the code out of the final redirect.
pub const SHARED_REDIRECT_URI: &str = "http://127.0.0.1:9/hub/oauth_callback";

/// Where setup.sh installed oidc-provider.
pub fn oidc_dir() -> PathBuf {
    let dir = PathBuf::from(
        std::env::var("FERROHUB_OIDC").unwrap_or_else(|_| "/opt/ferrohub/oidc".into()),
    );
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "no oidc-provider in {}; run scripts/setup.sh",
        dir.display()
    );
    dir
}

/// A running provider; killed on drop.
#[derive(Debug)]
pub struct OidcProvider {
    /// `http://127.0.0.1:<port>`, the issuer and base of every endpoint.
    pub issuer: String,
    /// The redirect URIs the client may use.
    pub redirect_uris: Vec<String>,
    /// Holds the provider's stderr log.
    pub dir: tempfile::TempDir,
    daemon: Daemon,
}

/// How to start a provider beyond its redirect URIs.
#[derive(Debug, Clone, Default)]
pub struct OidcOptions {
    /// The redirect URIs the client may use.
    pub redirect_uris: Vec<String>,
    /// Access tokens' lifetime in seconds (the provider's default: an hour);
    /// short, so a test can watch its client refresh them.
    pub access_token_ttl_secs: Option<u64>,
}

/// What the provider's token endpoint does to the ID tokens it returns (see
/// [`OidcProvider::tamper`]); the access and refresh tokens stay genuine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// Genuine ID tokens.
    None,
    /// Signed by the provider, but for another client (`aud`, `azp`).
    WrongAudience,
    /// Signed by the provider, but expired an hour ago.
    ExpiredIdToken,
    /// The claims changed after signing to another user (`bob`, group
    /// `staff`), keeping the original signature.
    BadSignature,
}

impl Tamper {
    fn mode(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::WrongAudience => "wrong-audience",
            Self::ExpiredIdToken => "expired-id-token",
            Self::BadSignature => "bad-signature",
        }
    }
}

impl OidcProvider {
    /// Starts a provider whose client accepts `redirect_uris` (e.g. a test
    /// hub's `http://127.0.0.1:<port>/hub/oauth_callback`); returns once it
    /// listens.
    pub fn start(redirect_uris: &[&str]) -> Self {
        Self::start_with(&OidcOptions {
            redirect_uris: redirect_uris.iter().map(|&u| u.to_owned()).collect(),
            ..OidcOptions::default()
        })
    }

    /// Starts a provider with `options`; returns once it listens.
    pub fn start_with(options: &OidcOptions) -> Self {
        let redirect_uris = &options.redirect_uris;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/idp/oidc_provider.mjs");
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("oidc-provider.log")).unwrap();
        let mut command = Command::new("node");
        command
            .arg(&script)
            .args(["--port", "0", "--client-id", CLIENT_ID])
            .args(["--client-secret", CLIENT_SECRET])
            .env("FERROHUB_OIDC", oidc_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        for uri in redirect_uris {
            command.args(["--redirect-uri", uri]);
        }
        if let Some(ttl) = options.access_token_ttl_secs {
            command.args(["--access-token-ttl", &ttl.to_string()]);
        }
        let mut child = spawn_tied_to_process(command).expect("start node (is Node.js installed?)");
        let stdout = child.stdout.take().unwrap();
        let mut daemon = Daemon::new(child);
        // The script prints the issuer once it listens (port 0: the kernel's pick).
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        stdout.read_line(&mut line).unwrap();
        // Keep reading: node dies of EPIPE if it writes to a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let Some(issuer) = line.trim().strip_prefix("OIDC_ISSUER=") else {
            daemon.check_running("oidc_provider.mjs");
            let log = std::fs::read_to_string(dir.path().join("oidc-provider.log"));
            panic!("oidc_provider.mjs printed {line:?}; log: {log:?}");
        };
        Self {
            issuer: issuer.to_owned(),
            redirect_uris: redirect_uris.clone(),
            dir,
            daemon,
        }
    }

    /// Makes the token endpoint return ID tokens tampered as `how` from now
    /// on (until the next call).
    pub async fn tamper(&self, how: Tamper) {
        let response = reqwest::Client::new()
            .post(format!("{}/__test/tamper", self.issuer))
            .body(how.mode())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "setting tamper mode {how:?}");
    }

    /// The provider's process id.
    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// The provider's log (warnings, errors), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("oidc-provider.log")).unwrap_or_default()
    }

    /// `<issuer>/auth?...` for an authorization-code request with `state`
    /// and the scopes `openid profile email`.
    pub fn authorize_url(&self, redirect_uri: &str, state: &str) -> String {
        format!(
            "{}/auth?client_id={CLIENT_ID}&response_type=code&scope=openid%20profile%20email\
             &redirect_uri={}&state={state}&nonce=n-{state}",
            self.issuer,
            super::browser::urlencode(redirect_uri)
        )
    }
}

/// One provider per test binary (process), started on first use, with
/// [`SHARED_REDIRECT_URI`]; killed when the process exits.
pub fn shared() -> &'static OidcProvider {
    static SHARED: OnceLock<OidcProvider> = OnceLock::new();
    SHARED.get_or_init(|| OidcProvider::start(&[SHARED_REDIRECT_URI]))
}

/// Logs in at the provider as `user` and grants consent, starting from an
/// authorization URL (the provider's `/auth?...`, or the redirect a hub's
/// `oauth_login` answers with). `client` must keep cookies and must not
/// follow redirects. Returns the final redirect to the client's redirect URI
/// (carrying `code`, `state` and `iss`), which is not fetched.
pub async fn login(client: &reqwest::Client, authorize_url: &str, user: &str) -> String {
    let mut url = authorize_url.to_owned();
    // auth -> login form -> auth -> consent form -> auth -> redirect_uri
    for _ in 0..12 {
        let response = client.get(&url).send().await.unwrap();
        if response.status().is_redirection() {
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            let next = absolute(&url, &location);
            if !next.starts_with(&origin(authorize_url)) {
                return next;
            }
            url = next;
            continue;
        }
        let page = response.text().await.unwrap();
        let action = attribute(&page, "<form", "action")
            .unwrap_or_else(|| panic!("no form at {url}: {page}"));
        let mut fields = hidden_inputs(&page);
        if page.contains("name=\"login\"") {
            fields.push(("login".into(), user.into()));
            fields.push(("password".into(), "any-password".into()));
        }
        let answer = client
            .post(absolute(&url, &action))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_redirection(),
            "posting the form at {url} answered {}",
            answer.status()
        );
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        url = absolute(&url, &location);
        if !url.starts_with(&origin(authorize_url)) {
            return url;
        }
    }
    panic!("no redirect back to the client after 12 steps from {authorize_url}");
}

fn origin(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    url[..end].to_owned()
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with('/') {
        format!("{}{location}", origin(base))
    } else {
        location.to_owned()
    }
}

/// The value of `name="..."` in the first tag starting with `tag`.
fn attribute(html: &str, tag: &str, name: &str) -> Option<String> {
    let start = html.find(tag)?;
    let tag_text = &html[start..start + html[start..].find('>')?];
    let key = format!("{name}=\"");
    let from = tag_text.find(&key)? + key.len();
    let to = from + tag_text[from..].find('"')?;
    Some(tag_text[from..to].replace("&amp;", "&"))
}

/// `(name, value)` of every `type="hidden"` input.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<input") {
        let from_tag = &rest[start..];
        let tag = &from_tag[..from_tag.find('>').unwrap_or(from_tag.len())];
        if tag.contains("type=\"hidden\"")
            && let (Some(name), Some(value)) = (
                attribute(from_tag, "<input", "name"),
                attribute(from_tag, "<input", "value"),
            )
        {
            fields.push((name, value));
        }
        rest = &rest[start + 6..];
    }
    fields
}
