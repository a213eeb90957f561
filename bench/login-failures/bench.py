#!/usr/bin/env python3
"""Failed-login benchmark: does a flood of failed logins slow the hub down?

For each authenticator in turn (PAM, dummy with a password, shared password,
LDAP, OAuth) this starts the real ferrohub (with ferrohub-proxy) in a temporary
directory, sends at least --attempts failed logins, and goes on until
--min-duration seconds have passed (`POST /hub/login` with the form's XSRF
token and a wrong password, spread over --names user names, --clients at a
time), and meanwhile a separate process asks `GET /hub/health` every
--poll-ms milliseconds. It reports the health latency (p50/p99/max) per
authenticator, the failed-login throughput, and how many attempts the
authenticator really checked (403) versus answered 429 without checking
(the login throttle, or a saturated back end). Criterion: health p99 under
50 ms while the failures run.

Run through bench/login-failures/run.sh, which builds ferrohub in release
mode and passes the binaries in. Standard library only, plus `slapd` and
`openssl` for LDAP and `useradd`/`chpasswd`/`userdel` for PAM (as root: the
hub checks another user's password through PAM only as root).

Adding a back end is one entry in BACKENDS: a `Backend` with its
`authenticator_class`, its config sections, and, when its failure is not a
wrong password in the login form (an OAuth callback with a bad code), its
own `attempt` method; `start`/`stop` run what it needs (a directory server,
a local account).

The login throttle (`Authenticator.login_failures_per_user`/`_per_address`)
answers 429 after a few failures per name and after 100 per client address,
without asking the authenticator. By default (--throttle off) the bench turns
it off, so every attempt is a real check (the worst case for the hub); a 429
then means the back end itself was saturated (PAM's bounded queue, LDAP's
connection limit). With --throttle default the hub runs with the defaults and
the report says how many attempts the throttle absorbed.
"""

import argparse
import datetime
import http.client
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchkit import (  # noqa: E402
    Process, free_port, log, machine_facts, proc_cpu_seconds, run_each, wait_until,
    write_outputs,
)

PROXY_TOKEN = secrets.token_hex(16)
WRONG_PASSWORD = "not-the-password"
CRITERION_P99_MS = 50.0


# ------------------------------------------------------------------ back ends


class Backend:
    """One authenticator under test. Subclasses set `name`, `title` and
    `authenticator_class` and may override `sections`, `names`, `start`,
    `stop` and `attempt`."""

    name = "?"
    title = "?"
    authenticator_class = "?"

    def sections(self, workdir):
        """Extra TOML sections for the hub: {"Section": "key = value\\n..."}."""
        return {}

    def names(self, n):
        """The user names the failures are spread over."""
        return [f"u{i:03d}" for i in range(n)]

    def start(self, workdir, n_names):
        """Starts what the back end needs (before the hub)."""

    def stop(self):
        """Stops it again (also after a failure)."""

    def attempt(self, client, name):
        """One failed login; returns the HTTP status."""
        return client.form_login(name, WRONG_PASSWORD)


class Pam(Backend):
    name = "pam"
    title = "PAM (a real local account, service `login`)"
    authenticator_class = "pam"

    def __init__(self):
        self.account = None

    def start(self, workdir, n_names):
        if os.geteuid() != 0:
            raise RuntimeError("the PAM back end needs root (run the bench as root or --only others)")
        self.account = f"fhbench{os.getpid()}"
        subprocess.run(["userdel", "-r", self.account], capture_output=True)
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", self.account], check=True)
        subprocess.run(["chpasswd"], input=f"{self.account}:{secrets.token_hex(12)}\n", text=True,
                       check=True)

    def names(self, n):
        # The real account and names with no account: PAM fails both with its
        # failure delay.
        return [self.account] + [f"fhbenchx{i:03d}" for i in range(n - 1)]

    def stop(self):
        if self.account:
            subprocess.run(["userdel", "-r", self.account], capture_output=True)
            self.account = None


class Dummy(Backend):
    name = "dummy"
    title = "dummy, with `DummyAuthenticator.password`"
    authenticator_class = "dummy"

    def sections(self, workdir):
        return {"DummyAuthenticator": f'password = "{secrets.token_hex(8)}"'}


class SharedPassword(Backend):
    name = "shared-password"
    title = "shared password (`SharedPasswordAuthenticator.user_password`)"
    authenticator_class = "shared-password"

    def sections(self, workdir):
        return {"SharedPasswordAuthenticator": f'user_password = "{secrets.token_hex(8)}"'}


class Ldap(Backend):
    """A private slapd as the tests' fixture runs it (crates/cli/tests/support/
    ldap.rs): its own config and database in the work directory, a test CA
    and a server certificate, the users `u000`... The hub binds with
    StartTLS (upstream's default `before_bind`), trusting that CA."""

    name = "ldap"
    title = "LDAP (slapd, StartTLS, bind_dn_template)"
    authenticator_class = "ldap"
    SUFFIX = "dc=example,dc=org"

    def __init__(self):
        self.process = None
        self.port = None
        self.dir = None

    def start(self, workdir, n_names):
        for tool in ("/usr/sbin/slapd", "/usr/sbin/slapadd"):
            if not os.path.exists(tool):
                raise RuntimeError(f"no {tool}; install slapd (scripts/setup.sh)")
        self.dir = os.path.join(workdir, "slapd")
        os.makedirs(os.path.join(self.dir, "db"))
        self._certificates()
        conf = os.path.join(self.dir, "slapd.conf")
        with open(conf, "w") as f:
            f.write(self._config())
        ldif = os.path.join(self.dir, "data.ldif")
        with open(ldif, "w") as f:
            f.write(self._data(n_names))
        run(["/usr/sbin/slapadd", "-f", conf, "-l", ldif])
        self.port = free_port()
        self.process = Process("slapd", ["/usr/sbin/slapd", "-d", "0", "-h", f"ldap://127.0.0.1:{self.port}/",
                                         "-f", conf], None, os.path.join(self.dir, "slapd.log"))

        def listening():
            import socket
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        wait_until("slapd", listening, self.process, timeout=20)

    def stop(self):
        if self.process:
            self.process.stop()
            self.process = None

    def sections(self, workdir):
        ca = os.path.join(self.dir, "ca.pem")
        return {"LDAPAuthenticator": f"""server_address = "127.0.0.1"
server_port = {self.port}
tls_strategy = "before_bind"
tls_kwargs = {{ ca_certs_file = "{ca}" }}
bind_dn_template = "uid={{username}},ou=people,{self.SUFFIX}"
"""}

    def _certificates(self):
        d = self.dir
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=ferrohub bench LDAP CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", f"{d}/ca-key.pem", "-out", f"{d}/ca.pem"])
        run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", f"{d}/key.pem", "-out", f"{d}/server.csr"])
        with open(f"{d}/server.ext", "w") as f:
            f.write("subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n"
                    "keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n")
        run(["openssl", "x509", "-req", "-days", "2", "-set_serial", "2", "-in", f"{d}/server.csr",
             "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca-key.pem", "-extfile", f"{d}/server.ext",
             "-out", f"{d}/cert.pem"])

    def _config(self):
        d = self.dir
        return f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {d}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile {d}/cert.pem
TLSCertificateKeyFile {d}/key.pem
database mdb
maxsize 10485760
suffix "{self.SUFFIX}"
rootdn "cn=admin,{self.SUFFIX}"
rootpw {secrets.token_hex(8)}
directory {d}/db
access to attrs=userPassword by anonymous auth by self write by * none
access to * by * read
"""

    def _data(self, n):
        s = self.SUFFIX
        out = [f"dn: {s}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n",
               f"dn: ou=people,{s}\nobjectClass: organizationalUnit\nou: people\n"]
        for uid in self.names(n):
            out.append(f"dn: uid={uid},ou=people,{s}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\n"
                       f"sn: {uid}\nuserPassword: {secrets.token_hex(8)}\n")
        return "\n".join(out)


class OAuth(Backend):
    """GenericOAuthenticator against the tests' OpenID Connect provider
    (crates/cli/tests/idp/oidc_provider.mjs on npm oidc-provider, installed by
    scripts/setup.sh). A failed login is what a forged or stale callback
    costs the hub: `GET /hub/oauth_login` (a state cookie and the redirect to
    the provider), then `GET /hub/oauth_callback` with that state and a code
    the provider never issued, which the hub must exchange at the provider's
    token endpoint before it can refuse it."""

    name = "oauth"
    title = "OAuth (GenericOAuthenticator, oidc-provider, bad codes)"
    authenticator_class = "generic-oauth"
    CALLBACK = "http://127.0.0.1:9/hub/oauth_callback"

    def __init__(self):
        self.process = None
        self.issuer = None

    def start(self, workdir, n_names):
        script = os.path.join(os.path.dirname(os.path.dirname(HERE)),
                              "crates/cli/tests/idp/oidc_provider.mjs")
        oidc_dir = os.environ.get("FERROHUB_OIDC", "/opt/ferrohub/oidc")
        if not os.path.isdir(os.path.join(oidc_dir, "node_modules/oidc-provider")):
            raise RuntimeError(f"no oidc-provider in {oidc_dir}; run scripts/setup.sh")
        port = free_port()
        self.issuer = f"http://127.0.0.1:{port}"
        env = dict(os.environ, FERROHUB_OIDC=oidc_dir)
        self.process = Process("oidc-provider", ["node", script, "--port", str(port),
                                                 "--redirect-uri", self.CALLBACK],
                               None, os.path.join(workdir, "oidc-provider.log"), env=env)
        wait_until("oidc-provider",
                   lambda: get_status(port, "/.well-known/openid-configuration") == 200,
                   self.process, timeout=30)

    def stop(self):
        if self.process:
            self.process.stop()
            self.process = None

    def sections(self, workdir):
        # The fixture's client (see crates/cli/tests/support/oidc.rs).
        return {"GenericOAuthenticator": f"""client_id = "ferrohub"
client_secret = "hubsecret"
oidc_issuer = "{self.issuer}"
oauth_callback_url = "{self.CALLBACK}"
scope = ["openid", "profile"]
username_claim = "preferred_username"
"""}

    def attempt(self, client, name):
        response, _ = client.request("GET", "/hub/oauth_login")
        cookie = next((v.split(";", 1)[0] for h, v in response.getheaders()
                       if h.lower() == "set-cookie" and v.startswith("oauthenticator-state=")), None)
        query = urllib.parse.urlparse(response.getheader("Location", "")).query
        state = urllib.parse.parse_qs(query).get("state", [None])[0]
        if response.status != 302 or not cookie or not state:
            return f"oauth_login answered {response.status}"
        callback = "/hub/oauth_callback?" + urllib.parse.urlencode(
            {"code": f"forged-{name}-{secrets.token_hex(4)}", "state": state})
        response, _ = client.request("GET", callback, headers={"Cookie": cookie})
        return response.status


# One entry per back end; `--only` picks by name.
BACKENDS = [Pam(), Dummy(), SharedPassword(), Ldap(), OAuth()]


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr}")


# ------------------------------------------------------------------ the hub


class Hub:
    """ferrohub in a directory of its own, reached on its hub port."""

    def __init__(self, workdir, args, backend):
        self.dir = workdir
        os.makedirs(self.dir)
        self.hub_port, self.public_port, self.api_port = free_port(), free_port(), free_port()
        d = self.dir
        throttle = ("login_failures_per_user = 0\nlogin_failures_per_address = 0\n"
                    if args.throttle == "off" else "")
        sections = {"Authenticator": f"allow_all = true\n{throttle}"}
        for section, body in backend.sections(workdir).items():
            sections[section] = sections.get(section, "") + body
        extra = "".join(f"[{name}]\n{body}\n" for name, body in sections.items())
        config = f"""[JupyterHub]
bind_url = "http://127.0.0.1:{self.public_port}"
hub_bind_url = "http://127.0.0.1:{self.hub_port}"
db_url = "sqlite:///{d}/ferrohub.sqlite"
cookie_secret_file = "{d}/cookie_secret"
authenticator_class = "{backend.authenticator_class}"
spawner_class = "simple"
log_level = "{args.log_level}"
[ConfigurableHTTPProxy]
command = ["{args.ferrohub_proxy}"]
api_url = "http://127.0.0.1:{self.api_port}"
auth_token = "{PROXY_TOKEN}"
pid_file = "{d}/proxy.pid"
log_level = "{args.log_level}"
{extra}"""
        self.config = os.path.join(d, "ferrohub.toml")
        with open(self.config, "w") as f:
            f.write(config)
        self.binary = args.ferrohub
        self.process = None

    def start(self):
        env = dict(os.environ)
        env.pop("RUST_LOG", None)
        self.process = Process("ferrohub", [self.binary, "-f", self.config], None,
                               os.path.join(self.dir, "hub.log"), env=env, cwd=self.dir, stop_timeout=20)
        wait_until("ferrohub", lambda: get_status(self.hub_port, "/hub/api") == 200, self.process)

    def stop(self):
        if self.process:
            self.process.stop()
            self.process = None


def get_status(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


# ---------------------------------------------------------------- the clients


class Client:
    """A browser-like client on one keep-alive connection to the hub port: it
    loads the login form once (the `_xsrf` cookie and field) and posts it."""

    def __init__(self, port):
        self.port = port
        self.conn = None
        self.cookie = ""
        self.xsrf = ""

    def request(self, method, path, body=None, headers=None):
        for retry in (True, False):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return response, data
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if not retry:
                    raise
        raise AssertionError("unreachable")

    def load_form(self):
        response, body = self.request("GET", "/hub/login")
        if response.status != 200:
            raise RuntimeError(f"login form answered {response.status}")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and value.startswith("_xsrf="):
                self.cookie = value.split(";", 1)[0]
        found = re.search(rb'name="_xsrf" value="([^"]+)"', body)
        if not found or not self.cookie:
            raise RuntimeError("no _xsrf token on the login form")
        self.xsrf = found.group(1).decode()

    def form_login(self, name, password):
        if not self.xsrf:
            self.load_form()
        body = urllib.parse.urlencode({"_xsrf": self.xsrf, "username": name, "password": password})
        response, _ = self.request("POST", "/hub/login", body, {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": self.cookie,
        })
        return response.status


def attacker(port, backend, names, next_index, total, until, results):
    """One login client process: takes attempt numbers until `total` have
    been taken and the clock (`time.monotonic`, shared by all processes)
    has passed `until`."""
    os.nice(10)  # the health poller, not the load, gets the client CPU first
    client = Client(port)
    statuses, latencies = {}, []
    while True:
        with next_index.get_lock():
            i = next_index.value
            next_index.value += 1
        if i >= total and time.monotonic() >= until:
            break
        started = time.perf_counter()
        try:
            status = backend.attempt(client, names[i % len(names)])
        except (http.client.HTTPException, OSError) as err:
            status = f"error: {type(err).__name__}"
        latencies.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1
    results.put({"statuses": statuses, "latencies": latencies})


def poller(port, interval, stop, results):
    """Asks /hub/health every `interval` seconds until `stop` is set."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, errors = [], 0
    while not stop.is_set():
        started = time.perf_counter()
        try:
            conn.request("GET", "/hub/health")
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors += 1
        except (http.client.HTTPException, OSError):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        elapsed = time.perf_counter() - started
        latencies.append(elapsed)
        time.sleep(max(0.0, interval - elapsed))
    results.put({"latencies": latencies, "errors": errors})


def percentile(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# ---------------------------------------------------------------- one back end


def measure(args, backend, workdir):
    ctx = multiprocessing.get_context("fork")
    names = backend.names(args.names)
    hub = Hub(os.path.join(workdir, "hub"), args, backend)
    try:
        log(f"{backend.name}: starting ferrohub (hub port {hub.hub_port}, log {hub.dir}/hub.log)")
        hub.start()
        # Warm-up: one failure per client (PAM loads its modules, LDAP opens
        # its first connection); not counted.
        warm = Client(hub.hub_port)
        for name in names[: min(2, len(names))]:
            backend.attempt(warm, name)
        # The idle floor: health alone, before the failures start.
        idle_stop, idle_results = ctx.Event(), ctx.Queue()
        idle = ctx.Process(target=poller, args=(hub.hub_port, args.poll_ms / 1e3, idle_stop, idle_results))
        idle.start()
        time.sleep(2.0)
        idle_stop.set()
        idle_data = idle_results.get()
        idle.join()

        stop, health_results, attempt_results = ctx.Event(), ctx.Queue(), ctx.Queue()
        health = ctx.Process(target=poller, args=(hub.hub_port, args.poll_ms / 1e3, stop, health_results))
        health.start()
        time.sleep(0.2)
        next_index = ctx.Value("l", 0)
        cpu_before = proc_cpu_seconds(hub.process.pid)
        started = time.perf_counter()
        until = time.monotonic() + args.min_duration
        clients = [ctx.Process(target=attacker,
                               args=(hub.hub_port, backend, names, next_index, args.attempts, until,
                                     attempt_results))
                   for _ in range(args.clients)]
        for c in clients:
            c.start()
        parts = [attempt_results.get() for _ in clients]
        duration = time.perf_counter() - started
        cpu = proc_cpu_seconds(hub.process.pid) - cpu_before
        for c in clients:
            c.join()
        stop.set()
        health_data = health_results.get()
        health.join()
        if not hub.process.alive():
            raise RuntimeError(f"{backend.name}: the hub died; log:\n{hub.process.log()}")
    finally:
        hub.stop()

    statuses = {}
    latencies = []
    for part in parts:
        latencies += part["latencies"]
        for status, count in part["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    ms = [x * 1e3 for x in health_data["latencies"]]
    idle_ms = [x * 1e3 for x in idle_data["latencies"]]
    attempts = sum(statuses.values())
    checked = statuses.get(403, 0)
    result = {
        "backend": backend.name, "title": backend.title,
        "attempts": attempts, "checked": checked, "throttled": statuses.get(429, 0),
        "other": {str(k): v for k, v in statuses.items() if k not in (403, 429)},
        "duration_s": duration, "attempts_per_s": attempts / duration, "checked_per_s": checked / duration,
        "login_p50_ms": percentile(latencies, 50) * 1e3, "login_p99_ms": percentile(latencies, 99) * 1e3,
        "hub_cpu_s": cpu,
        "health_polls": len(ms), "health_errors": health_data["errors"],
        "health_p50_ms": percentile(ms, 50), "health_p99_ms": percentile(ms, 99), "health_max_ms": max(ms),
        "idle_p50_ms": percentile(idle_ms, 50), "idle_p99_ms": percentile(idle_ms, 99),
    }
    result["pass"] = result["health_p99_ms"] < CRITERION_P99_MS and result["health_errors"] == 0
    log(f"{backend.name}: {attempts} attempts in {duration:.1f} s ({checked} checked, "
        f"{result['throttled']} answered 429, other {result['other']}); health p50 "
        f"{result['health_p50_ms']:.1f} ms, p99 {result['health_p99_ms']:.1f} ms, "
        f"max {result['health_max_ms']:.1f} ms over {len(ms)} polls")
    return result


# ---------------------------------------------------------------- report


def report(args, results, load_before, load_after):
    lines = []
    add = lines.append
    add(f"Run {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}; ferrohub {args.ferrohub_label} "
        f"(`{args.ferrohub}`).")
    add("")
    add(f"- Machine: {machine_facts()}. Other work used {load_before:.2f} cores just before and "
        f"{load_after:.2f} just after.")
    add(f"- Per authenticator: at least {args.attempts:,} failed logins and at least {args.min_duration:g} s "
        f"of them (`POST /hub/login`, wrong password, {args.names} user names in turn, {args.clients} "
        f"clients at a time, keep-alive, straight to the hub port), while one more process asks "
        f"`GET /hub/health` every {args.poll_ms:g} ms.")
    if args.throttle == "off":
        add("- Login throttle off (`login_failures_per_user = 0`, `login_failures_per_address = 0`): every "
            "attempt reached the authenticator; a 429 is the back end's own \"busy\" answer (a full PAM "
            "queue, LDAP's connection limit), given without a check.")
    else:
        add("- Login throttle at its defaults (5 failures per name, 100 per address, backoff from 1 s): "
            "a 429 is an attempt the throttle (or a saturated back end) answered without a check.")
    add("")
    add("| authenticator | health p50 | health p99 | health max | idle p99 | attempts | checked (403) "
        "| 429 unchecked | other | failed logins/s | checked/s | login p50 / p99 | hub CPU | p99 < 50 ms |")
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |")
    for r in results:
        if "error" in r:
            first_line = r["error"].strip().splitlines()[0] if r["error"].strip() else "?"
            add(f"| {r['title']} | not measured: {first_line} |" + " |" * 11 + " **no** |")
            continue
        other = ", ".join(f"{k}: {v}" for k, v in r["other"].items()) or "0"
        add(f"| {r['title']} | {r['health_p50_ms']:.1f} ms | {r['health_p99_ms']:.1f} ms "
            f"| {r['health_max_ms']:.1f} ms | {r['idle_p99_ms']:.1f} ms | {r['attempts']:,} | {r['checked']:,} "
            f"| {r['throttled']:,} | {other} | {r['attempts_per_s']:,.1f} | {r['checked_per_s']:,.1f} "
            f"| {r['login_p50_ms']:.0f} / {r['login_p99_ms']:.0f} ms | {r['hub_cpu_s']:.1f} s "
            f"| {'yes' if r['pass'] else '**no**'} |")
    add("")
    add(f"Health latency is measured by the polling client from sending the request to the last byte "
        f"({sum(r.get('health_polls', 0) for r in results):,} polls in all, "
        f"{sum(r.get('health_errors', 0) for r in results)} errors); \"idle p99\" is the same poll for 2 s before "
        f"the failures began.")
    failed = [r["backend"] for r in results if not r["pass"]]
    add("")
    add("Criterion (health p99 < 50 ms under the failures): "
        + ("met by every authenticator." if not failed else f"**not met** by {', '.join(failed)}."))
    return "\n".join(lines) + "\n"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ferrohub", required=True, help="the ferrohub binary")
    p.add_argument("--ferrohub-proxy", required=True, help="the ferrohub-proxy binary")
    p.add_argument("--ferrohub-label", default="?", help="what was built (commit), for the report")
    p.add_argument("--attempts", type=int, default=1000, help="failed logins per authenticator (default 1000)")
    p.add_argument("--min-duration", type=float, default=10.0,
                   help="keep failing for at least this many seconds, beyond --attempts if need be, so a "
                        "fast back end still gets enough health polls for a p99 (default 10)")
    p.add_argument("--clients", type=int, default=8, help="login clients at a time (default 8)")
    p.add_argument("--names", type=int, default=50, help="user names the failures are spread over (default 50)")
    p.add_argument("--poll-ms", type=float, default=10.0, help="interval of the health poll (default 10 ms)")
    p.add_argument("--throttle", choices=("off", "default"), default="off",
                   help="login throttle: off (every attempt is checked; default) or the hub's defaults")
    p.add_argument("--only", default="", help="comma-separated back ends, of: "
                   + ", ".join(b.name for b in BACKENDS))
    p.add_argument("--log-level", default="warn", help="the hub's log level (default warn)")
    p.add_argument("--output", help="also write the markdown report here")
    p.add_argument("--json", help="also write the raw results here")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args()
    known = {b.name for b in BACKENDS}
    args.only = [n for n in args.only.split(",") if n]
    unknown = set(args.only) - known
    if unknown:
        p.error(f"unknown back end(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    if args.names < 2 or args.clients < 1 or args.attempts < 1:
        p.error("--names must be at least 2, --clients and --attempts at least 1")
    return args


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = tempfile.mkdtemp(prefix="ferrohub-login-failures-")
    os.chmod(workdir, 0o755)

    def measure_one(backend, here):
        backend.start(here, args.names)
        return measure(args, backend, here)

    try:
        # One back end that cannot run (no root for PAM, no slapd) does not
        # cost the others their numbers.
        results, load_before, load_after = run_each(
            BACKENDS, args.only, workdir, measure_one,
            lambda backend, err: {"backend": backend.name, "title": backend.title, "error": err,
                                  "pass": False})
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    write_outputs(args, report(args, results, load_before, load_after), results)
    return 0 if all(r["pass"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
