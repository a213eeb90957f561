//! A private OpenLDAP server for the LDAP authenticator tests: the real
//! `slapd` (installed by scripts/setup.sh), with its own config and database
//! in a temporary directory, on free loopback ports: plain LDAP with
//! StartTLS, and LDAP over TLS (`ldaps://`), with a server certificate for
//! `127.0.0.1` issued by a test CA that `openssl` makes at start.
//!
//! Directory (suffix `dc=example,dc=org`, admin [`ADMIN_DN`] /
//! [`ADMIN_PASSWORD`]):
//! - `uid=alice,ou=people,dc=example,dc=org`, password `alicepw`
//!   (`employeeNumber: e2001`, `mail: alice@example.org`)
//! - `uid=bob,ou=people,dc=example,dc=org`, password `bobpw`
//!   (`employeeNumber: e2002`)
//! - `cn=staff,ou=groups,...` (groupOfNames, member alice) and
//!   `cn=students,ou=groups,...` (member bob)

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::daemon::{Daemon, spawn_tied_to_process};

/// The directory's base DN.
pub const SUFFIX: &str = "dc=example,dc=org";
/// The directory manager (slapd's rootdn).
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=org";
/// The manager's password.
pub const ADMIN_PASSWORD: &str = "adminpw";
/// `(uid, password, group)` of the test users.
pub const USERS: &[(&str, &str, &str)] =
    &[("alice", "alicepw", "staff"), ("bob", "bobpw", "students")];

/// The DN of a user in `ou=people`.
pub fn user_dn(uid: &str) -> String {
    format!("uid={uid},ou=people,{SUFFIX}")
}

/// A running slapd; killed on drop (its directory is removed after).
#[derive(Debug)]
pub struct Slapd {
    /// `ldap://127.0.0.1:<port>` (plain; StartTLS is offered there).
    pub url: String,
    /// The listening port.
    pub port: u16,
    /// `ldaps://127.0.0.1:<ldaps_port>` (TLS from the first byte).
    pub ldaps_url: String,
    /// The LDAP-over-TLS port.
    pub ldaps_port: u16,
    /// The test CA that issued the certificate slapd presents (on StartTLS
    /// and ldaps): trust it with `LDAPTLS_CACERT` (ldap-utils) or as the
    /// client's CA.
    pub ca_cert: PathBuf,
    // Declared before `dir`: the server stops before its files go away.
    daemon: Daemon,
    /// Config, database, certificate and log.
    pub dir: tempfile::TempDir,
}

impl Slapd {
    /// Builds the directory and starts slapd; returns once it answers.
    pub fn start() -> Self {
        let slapd = Path::new("/usr/sbin/slapd");
        assert!(slapd.exists(), "no /usr/sbin/slapd; run scripts/setup.sh");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("db")).unwrap();
        make_certificate(root);
        std::fs::write(root.join("slapd.conf"), config(root)).unwrap();
        std::fs::write(root.join("data.ldif"), data()).unwrap();
        // Load the entries offline, before the server runs.
        run(Command::new("/usr/sbin/slapadd")
            .arg("-f")
            .arg(root.join("slapd.conf"))
            .arg("-l")
            .arg(root.join("data.ldif")));
        for _ in 0..5 {
            let port = super::free_port();
            let url = format!("ldap://127.0.0.1:{port}");
            let ldaps_port = super::free_port();
            let ldaps_url = format!("ldaps://127.0.0.1:{ldaps_port}");
            let log = std::fs::File::create(root.join("slapd.log")).unwrap();
            let mut command = Command::new(slapd);
            // -d keeps slapd in the foreground (so it is our child); level 0 logs little.
            command
                .args(["-d", "0", "-h", &format!("{url}/ {ldaps_url}/"), "-f"])
                .arg(root.join("slapd.conf"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            let mut daemon = Daemon::new(spawn_tied_to_process(command).expect("start slapd"));
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                    && std::net::TcpStream::connect(("127.0.0.1", ldaps_port)).is_ok()
                {
                    return Self {
                        url,
                        port,
                        ldaps_url,
                        ldaps_port,
                        ca_cert: root.join("ca.pem"),
                        daemon,
                        dir,
                    };
                }
                if daemon.has_exited() {
                    break; // e.g. the port was taken meanwhile: try another
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        let log = std::fs::read_to_string(root.join("slapd.log")).unwrap_or_default();
        panic!("slapd did not start; last log:\n{log}");
    }

    /// slapd's process id.
    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }
}

/// One slapd per test binary (process), started on first use; killed when
/// the process exits.
pub fn shared() -> &'static Slapd {
    static SHARED: OnceLock<Slapd> = OnceLock::new();
    SHARED.get_or_init(Slapd::start)
}

fn run(command: &mut Command) {
    let output = command.output().expect("run an OpenLDAP/openssl tool");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A test CA (`ca.pem`) and a server certificate for 127.0.0.1 it issued
/// (`cert.pem`, `key.pem`). Not one self-signed certificate: TLS clients
/// built on webpki (rustls) refuse a CA certificate as a server's.
fn make_certificate(root: &Path) {
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=ferrohub test LDAP CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .arg("-keyout")
        .arg(root.join("ca-key.pem"))
        .arg("-out")
        .arg(root.join("ca.pem")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(root.join("key.pem"))
        .arg("-out")
        .arg(root.join("server.csr")));
    std::fs::write(
        root.join("server.ext"),
        "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n\
         keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-set_serial", "2"])
        .arg("-in")
        .arg(root.join("server.csr"))
        .arg("-CA")
        .arg(root.join("ca.pem"))
        .arg("-CAkey")
        .arg(root.join("ca-key.pem"))
        .arg("-extfile")
        .arg(root.join("server.ext"))
        .arg("-out")
        .arg(root.join("cert.pem")));
}

fn config(root: &Path) -> String {
    let root = root.display();
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {root}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile {root}/cert.pem
TLSCertificateKeyFile {root}/key.pem
database mdb
maxsize 10485760
suffix \"{SUFFIX}\"
rootdn \"{ADMIN_DN}\"
rootpw {ADMIN_PASSWORD}
directory {root}/db
access to attrs=userPassword by anonymous auth by self write by * none
access to * by * read
"
    )
}

fn data() -> String {
    let mut ldif = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n"
    );
    for (number, (uid, password, group)) in (2001..).zip(USERS) {
        let dn = user_dn(uid);
        write!(
            ldif,
            "dn: {dn}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: {uid}\n\
             cn: {uid}\nsn: {uid}\nmail: {uid}@example.org\nemployeeNumber: e{number}\n\
             uidNumber: {number}\n\
             gidNumber: {number}\nhomeDirectory: /home/{uid}\nuserPassword: {password}\n\n\
             dn: cn={group},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: {group}\n\
             member: {dn}\n\n"
        )
        .unwrap();
    }
    ldif
}
