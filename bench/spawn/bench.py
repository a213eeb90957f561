#!/usr/bin/env python3
"""Spawn benchmark (issue 14): N concurrent spawns on each engine.

For each engine in turn (LocalProcessSpawner with real local users,
DockerSpawner against a private dockerd, SlurmSpawner on the one-node
cluster) this starts the real ferrohub (with ferrohub-proxy) in a temporary
directory, asks for --spawns servers at once (`POST /hub/api/users/<u>/server`
with an admin token, one thread per user) and follows each spawn's progress
stream (`GET /hub/api/users/<u>/server/progress`, opened while the POST is in
flight), noting when each event arrives. It reports, per engine:

- request to ready: from sending the POST to the `ready: true` event;
- engine time: "Spawning server..." (10 %) to "Server process started" (40 %),
  the spawner's `start`, plus "Waiting for the server to answer" (50 %) to
  "The server answered" (95 %), the wait for the server's HTTP (see
  crates/hub/src/runtime/spawn.rs);
- hub time: the rest of request to ready (the API request, the database, the
  token and environment, the proxy route, the events);
- the hub's own CPU (utime + stime of its process, from /proc) over the whole
  batch divided by the number of spawns, and the proxy's likewise.

Then it stops every server (`DELETE`), waits until they are gone, stops the
hub and removes what it created (local users, containers, jobs).

An event's time is when this client read it; events sent before the stream
was open (the stream is retried every 10 ms until the spawn is pending) are
timed at the opening, which moves at most that much from hub to engine time.

Run through bench/spawn/run.sh (as root: LocalProcessSpawner and Slurm run
servers as the users it creates), which builds ferrohub in release mode and
passes the binaries in. Standard library only, plus `useradd`/`userdel`,
`dockerd`/`docker` (scripts/setup.sh) and Slurm (scripts/setup.sh).

Adding an engine is one entry in ENGINES: an `Engine` with its
`spawner_class`, config sections, and `start`/`stop` for what it needs.
"""

import argparse
import datetime
import fcntl
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchkit import (  # noqa: E402
    Process, free_port, log, machine_facts, proc_cpu_seconds, run_each, wait_until,
    write_outputs,
)

PROXY_TOKEN = secrets.token_hex(16)
VENV = os.environ.get("FERROHUB_VENV", "/opt/ferrohub/venv")
ADMIN = "fhbenchadmin"
# The hub's own progress messages (crates/hub/src/runtime/spawn.rs).
SPAWNING = "Spawning server"
STARTED = "Server process started"
WAITING = "Waiting for the server to answer"
ANSWERED = "The server answered"


def run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
    return out.stdout


# ------------------------------------------------------------------ engines


class Engine:
    """One spawner under test. Subclasses set `name`, `title` and
    `spawner_class` and may override `sections`, `env`, `start`, `stop` and
    `users`."""

    name = "?"
    title = "?"
    spawner_class = "?"

    def users(self, n):
        return [f"fhb{i:03d}" for i in range(n)]

    def sections(self, workdir):
        return {}

    def env(self):
        return {}

    def start(self, workdir, users):
        """Starts what the engine needs (before the hub)."""

    def stop(self):
        """Removes what it made (also after a failure)."""


class LocalUsers:
    """Throwaway local accounts with a home, removed again."""

    def __init__(self):
        self.created = []

    def create(self, names):
        if os.geteuid() != 0:
            raise RuntimeError("needs root (it creates local users); run the bench as root")
        for name in names:
            subprocess.run(["userdel", "-r", name], capture_output=True)
            run(["useradd", "-m", "-s", "/bin/bash", name])
            self.created.append(name)

    def remove(self):
        for name in self.created:
            # Only these throwaway accounts' processes.
            subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
        if self.created:
            time.sleep(0.3)
        for name in self.created:
            subprocess.run(["userdel", "-r", name], capture_output=True)
        self.created = []


class Local(Engine):
    name = "local"
    title = "LocalProcessSpawner (real local users)"
    spawner_class = "localprocess"

    def __init__(self):
        self.accounts = LocalUsers()

    def users(self, n):
        return [f"fhbl{os.getpid()}u{i:02d}" for i in range(n)]

    def start(self, workdir, users):
        self.accounts.create(users)

    def stop(self):
        self.accounts.remove()


class Docker(Engine):
    """A private dockerd as crates/cli/tests/support/docker.rs runs it (cgroupfs,
    no bridge, no iptables) under /tmp/ferrohub-bench-dockerd, whose data root
    keeps the image imported from scripts/singleuser-image.sh's tarball for
    later runs; containers on the host's network."""

    name = "docker"
    title = "DockerSpawner (private dockerd, host network)"
    spawner_class = "docker"
    ROOT = "/tmp/ferrohub-bench-dockerd"

    def __init__(self):
        self.process = None
        self.host = f"unix://{self.ROOT}/docker.sock"
        self.prefix = f"fhb{os.getpid()}"
        self.image = None

    def cli(self, *args, check=True):
        out = subprocess.run(["docker", "--host", self.host, *args], capture_output=True, text=True)
        if check and out.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {out.stderr.strip()}")
        return out

    def start(self, workdir, users):
        if not os.path.exists("/usr/sbin/dockerd") or not shutil.which("docker"):
            raise RuntimeError("no dockerd/docker; run scripts/setup.sh")
        image, tarball, changes = self._recipe()
        os.makedirs(self.ROOT, mode=0o700, exist_ok=True)
        config = os.path.join(self.ROOT, "daemon.json")
        with open(config, "w") as f:
            json.dump({"exec-opts": ["native.cgroupdriver=cgroupfs"],
                       "default-ulimits": {
                           "nofile": {"Name": "nofile", "Soft": 1024, "Hard": 1024},
                           "nproc": {"Name": "nproc", "Soft": 1024, "Hard": 1024}}}, f)
        r = self.ROOT
        self.process = Process("dockerd", [
            "/usr/sbin/dockerd", "--config-file", config, "--host", self.host, "--data-root", f"{r}/data",
            "--exec-root", f"{r}/exec", "--pidfile", f"{r}/dockerd.pid", "--bridge", "none",
            "--iptables=false", "--ip-masq=false"], None, os.path.join(workdir, "dockerd.log"),
            stop_timeout=20)
        wait_until("dockerd", lambda: self.cli("version", check=False).returncode == 0, self.process,
                   timeout=60)
        if self.cli("image", "inspect", image, check=False).returncode != 0:
            log(f"docker: importing {image} from {tarball}")
            args = ["image", "import"]
            for change in changes:
                args += ["--change", change]
            self.cli(*args, tarball, image)
        self.image = image

    def _recipe(self):
        d = os.environ.get("FERROHUB_DOCKER_DIR", "/opt/ferrohub/docker")
        image, tarball, changes = None, None, []
        try:
            with open(os.path.join(d, "singleuser.env")) as f:
                for line in f:
                    key, _, value = line.rstrip("\n").partition("=")
                    if key == "FERROHUB_SINGLEUSER_IMAGE":
                        image = value
                    elif key == "FERROHUB_SINGLEUSER_TARBALL":
                        tarball = value
                    elif key == "FERROHUB_SINGLEUSER_CHANGES":
                        changes.append(value)
        except OSError as err:
            raise RuntimeError(f"{err}; run scripts/setup.sh") from err
        if not image or not tarball or not os.path.exists(tarball):
            raise RuntimeError(f"no single-user image tarball in {d}; run scripts/setup.sh")
        return image, tarball, changes

    def sections(self, workdir):
        return {"DockerSpawner": f'image = "{self.image}"\nnetwork_name = "host"\npull_policy = "never"\n'
                                 f'prefix = "{self.prefix}"\nremove = true\n'}

    def env(self):
        return {"DOCKER_HOST": self.host}

    def stop(self):
        if self.process:
            if self.process.alive():
                ids = self.cli("ps", "-aq", "--filter", f"name={self.prefix}", check=False).stdout.split()
                if ids:
                    self.cli("rm", "-f", *ids, check=False)
            self.process.stop()
            self.process = None


class Slurm(Engine):
    """The one-node cluster of scripts/setup.sh (/etc/slurm/slurm.conf), its
    daemons started here as crates/cli/tests/support/slurm.rs does if they
    do not answer yet (and stopped again); jobs run as local users created
    here, through the virtualenv's batchspawner-singleuser."""

    name = "slurm"
    title = "SlurmSpawner (one-node cluster, batchspawner-singleuser)"
    spawner_class = "slurm"

    def __init__(self):
        self.accounts = LocalUsers()
        self.daemons = []
        self.partition = None

    def users(self, n):
        return [f"fhbs{os.getpid()}u{i:02d}" for i in range(n)]

    def start(self, workdir, users):
        if not os.path.exists("/usr/sbin/slurmctld") or not os.path.exists("/etc/slurm/slurm.conf"):
            raise RuntimeError("no Slurm (slurmctld, /etc/slurm/slurm.conf); run scripts/setup.sh")
        self.accounts.create(users)
        logs = os.path.join(workdir, "slurm")
        os.makedirs(logs)
        # The tests' fixture takes this lock for the same check-and-start.
        with open("/run/ferrohub-slurm-fixture.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._start_daemons(logs)
        self._oversubscribe(len(users))

    def _oversubscribe(self, n):
        """The node has 2 CPUs and a job takes one (CR_Core): without
        oversubscription only 2 of the servers would run and the rest stay
        pending. The default partition shares its cores among up to n jobs
        (`OverSubscribe=FORCE:n`) while the bench runs; put back after."""
        for line in run(["scontrol", "show", "partition", "-o"]).splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if fields.get("Default") == "YES":
                self.partition = (fields["PartitionName"], fields.get("OverSubscribe", "NO"))
                break
        else:
            raise RuntimeError("no default Slurm partition")
        run(["scontrol", "update", f"PartitionName={self.partition[0]}", f"OverSubscribe=FORCE:{max(n, 2)}"])

    def _start_daemons(self, logs):

        def ok(cmd, needle=None):
            out = subprocess.run(cmd, capture_output=True, text=True)
            return out.returncode == 0 and (needle is None or needle(out.stdout))

        munge_ok = lambda: ok(["munge", "-n"])  # noqa: E731
        ctld_ok = lambda: ok(["scontrol", "ping"], lambda s: "is UP" in s)  # noqa: E731
        node_ok = lambda: ok(["sinfo", "-h", "-o", "%T"], lambda s: any(  # noqa: E731
            t.strip() in ("idle", "mixed", "allocated") for t in s.splitlines()))
        if not munge_ok():
            os.makedirs("/run/munge", exist_ok=True)
            shutil.chown("/run/munge", "munge", "munge")
            p = self._daemon("munged", ["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--foreground"], logs)
            wait_until("munged", munge_ok, p, timeout=10)
        if not ctld_ok():
            for d in ("/var/spool/slurmctld", "/var/log/slurm", "/var/spool/slurmd", "/run/slurm"):
                os.makedirs(d, exist_ok=True)
            p = self._daemon("slurmctld", ["/usr/sbin/slurmctld", "-D", "-c"], logs)
            wait_until("slurmctld", ctld_ok, p, timeout=30)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not node_ok():
            time.sleep(0.1)
        if not node_ok():
            p = self._daemon("slurmd", ["/usr/sbin/slurmd", "-D"], logs)
            wait_until("the Slurm node", node_ok, p, timeout=30)

    def _daemon(self, name, cmd, logs):
        p = Process(name, cmd, None, os.path.join(logs, f"{name}.log"))
        self.daemons.append(p)
        return p

    def sections(self, workdir):
        return {"SlurmSpawner": f'exec_prefix = ""\nbatchspawner_singleuser_cmd = "{VENV}/bin/batchspawner-singleuser"\n'
                                'startup_poll_interval = 0.2\n'}

    def stop(self):
        for name in self.accounts.created:
            subprocess.run(["scancel", "-u", name], capture_output=True)
        if self.partition:
            subprocess.run(["scontrol", "update", f"PartitionName={self.partition[0]}",
                            f"OverSubscribe={self.partition[1]}"], capture_output=True)
            self.partition = None
        self.accounts.remove()
        for p in reversed(self.daemons):
            p.stop()
        self.daemons = []


# One entry per engine; `--only` picks by name.
ENGINES = [Local(), Docker(), Slurm()]


# ------------------------------------------------------------------ the hub


class Hub:
    """ferrohub in a directory of its own, reached on its hub port."""

    def __init__(self, workdir, args, engine, users):
        self.dir = workdir
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.hub_port, self.public_port, self.api_port = free_port(), free_port(), free_port()
        d = self.dir
        allowed = ", ".join(f'"{u}"' for u in [ADMIN] + users)
        sections = {"Authenticator": f'allowed_users = [{allowed}]\nadmin_users = ["{ADMIN}"]\n'}
        for section, body in engine.sections(workdir).items():
            sections[section] = sections.get(section, "") + body
        extra = "".join(f"[{name}]\n{body}\n" for name, body in sections.items())
        config = f"""[JupyterHub]
bind_url = "http://127.0.0.1:{self.public_port}"
hub_bind_url = "http://127.0.0.1:{self.hub_port}"
db_url = "sqlite:///{d}/ferrohub.sqlite"
cookie_secret_file = "{d}/cookie_secret"
authenticator_class = "dummy"
spawner_class = "{engine.spawner_class}"
cleanup_servers = true
log_level = "{args.log_level}"
[ConfigurableHTTPProxy]
command = ["{args.ferrohub_proxy}"]
api_url = "http://127.0.0.1:{self.api_port}"
auth_token = "{PROXY_TOKEN}"
pid_file = "{d}/proxy.pid"
log_level = "{args.log_level}"
[Spawner]
cmd = ["{VENV}/bin/jupyterhub-singleuser"]
start_timeout = {args.timeout}
http_timeout = {args.timeout}
poll_interval = 30
environment = {{ PATH = "{VENV}/bin:/usr/local/bin:/usr/bin:/bin" }}
{extra}"""
        self.config = os.path.join(d, "ferrohub.toml")
        with open(self.config, "w") as f:
            f.write(config)
        self.binary = args.ferrohub
        self.env = dict(os.environ, **engine.env())
        self.env.pop("RUST_LOG", None)
        self.process = None

    def start(self):
        self.process = Process("ferrohub", [self.binary, "-f", self.config], None,
                               os.path.join(self.dir, "hub.log"), env=self.env, cwd=self.dir,
                               stop_timeout=60)
        wait_until("ferrohub", lambda: request(self.hub_port, "GET", "/hub/api")[0] == 200, self.process)

    def token(self, user):
        return run([self.binary, "-f", self.config, "token", user], cwd=self.dir, env=self.env).strip()

    def proxy_pid(self):
        try:
            with open(os.path.join(self.dir, "proxy.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        if self.process:
            self.process.stop()
            self.process = None


def request(port, method, path, token=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": f"token {token}"} if token else {}
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# ------------------------------------------------------------------ one spawn


def follow(port, token, user, t0, deadline, out):
    """Opens the user's progress stream as soon as the spawn is pending and
    notes (seconds since t0, progress, message) for each event."""
    events = out["events"]
    while time.monotonic() < deadline:
        if out.get("post_status") not in (None, 202):
            if out["post_status"] != 201:
                return  # refused: nothing to follow
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=max(1, deadline - time.monotonic()))
        try:
            conn.request("GET", f"/hub/api/users/{user}/server/progress",
                         headers={"Authorization": f"token {token}", "Accept": "text/event-stream"})
            response = conn.getresponse()
            if response.status != 200:
                response.read()
                time.sleep(0.01)
                continue
            while True:
                line = response.readline()
                if not line:
                    break
                line = line.decode().strip()
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                events.append((time.monotonic() - t0, event.get("progress"), event.get("message", "")))
                if event.get("ready"):
                    out["ready"] = events[-1][0]
                    return
                if event.get("failed"):
                    out["failed"] = event.get("message", "failed")
                    return
        except (http.client.HTTPException, OSError, ValueError) as err:
            out["stream_error"] = f"{type(err).__name__}: {err}"
            time.sleep(0.05)
        finally:
            conn.close()
    out.setdefault("failed", "no ready event before the timeout")


def post(port, token, user, out):
    try:
        status, body = request(port, "POST", f"/hub/api/users/{user}/server", token, timeout=120)
    except (http.client.HTTPException, OSError) as err:
        status, body = f"error: {type(err).__name__}", b""
    out["post_status"] = status
    if status not in (201, 202):
        out["failed"] = f"POST answered {status}: {body[:200]!r}"


def first(events, prefix):
    return next((t for t, _, m in events if m.startswith(prefix)), None)


def split(out):
    """engine and hub seconds of one ready spawn (None if an event is missing)."""
    ev = out["events"]
    marks = [first(ev, m) for m in (SPAWNING, STARTED, WAITING, ANSWERED)]
    if None in marks:
        return None, None
    engine = (marks[1] - marks[0]) + (marks[3] - marks[2])
    return engine, out["ready"] - engine


def percentile(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# ---------------------------------------------------------------- one engine


def measure(args, engine, workdir, users):
    hub = Hub(os.path.join(workdir, "hub"), args, engine, users)
    try:
        log(f"{engine.name}: starting ferrohub (hub port {hub.hub_port}, log {hub.dir}/hub.log)")
        hub.start()
        token = hub.token(ADMIN)
        proxy_pid = hub.proxy_pid()
        outs = {u: {"events": []} for u in users}
        cpu_before = proc_cpu_seconds(hub.process.pid)
        proxy_before = proc_cpu_seconds(proxy_pid)
        t0 = time.monotonic()
        deadline = t0 + args.timeout + 30
        threads = []
        for u in users:
            threads.append(threading.Thread(target=post, args=(hub.hub_port, token, u, outs[u])))
            threads.append(threading.Thread(target=follow,
                                            args=(hub.hub_port, token, u, t0, deadline, outs[u])))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        cpu = proc_cpu_seconds(hub.process.pid) - cpu_before
        proxy_cpu = proc_cpu_seconds(proxy_pid) - proxy_before if proxy_pid else float("nan")
        if not hub.process.alive():
            raise RuntimeError(f"{engine.name}: the hub died; log:\n{hub.process.log()}")
        ready = [u for u in users if "ready" in outs[u]]
        log(f"{engine.name}: {len(ready)} of {len(users)} ready in {wall:.1f} s; stopping them")
        stop_all(hub, token, users)
    finally:
        hub.stop()

    failures = {u: outs[u].get("failed", "?") for u in users if "ready" not in outs[u]}
    for u, why in failures.items():
        log(f"{engine.name}: {u}: {why}")
    totals, engines, hubs = [], [], []
    for u in ready:
        totals.append(outs[u]["ready"])
        e, h = split(outs[u])
        if e is not None:
            engines.append(e)
            hubs.append(h)
    if len(engines) < len(ready):
        log(f"{engine.name}: {len(ready) - len(engines)} ready spawns lacked a hub step event "
            "(the stream opened after they were ready); not in engine/hub time")
    n = len(users)
    result = {"engine": engine.name, "title": engine.title, "spawns": n, "ready": len(ready),
              "failures": failures, "wall_s": wall, "split": len(engines),
              "hub_cpu_s": cpu, "hub_cpu_per_spawn_ms": cpu / n * 1e3,
              "proxy_cpu_per_spawn_ms": proxy_cpu / n * 1e3,
              "events": {u: outs[u]["events"] for u in users}}
    for key, values in (("total", totals), ("engine", engines), ("hub", hubs)):
        for q in (50, 95):
            result[f"{key}_p{q}_s"] = percentile(values, q)
        result[f"{key}_max_s"] = max(values) if values else float("nan")
    log(f"{engine.name}: request to ready p50 {result['total_p50_s']:.2f} s (engine "
        f"{result['engine_p50_s']:.2f} s, hub {result['hub_p50_s']:.3f} s); hub CPU "
        f"{result['hub_cpu_per_spawn_ms']:.1f} ms per spawn")
    return result


def stop_all(hub, token, users):
    def stop(u):
        try:
            request(hub.hub_port, "DELETE", f"/hub/api/users/{u}/server", token, timeout=120)
        except (http.client.HTTPException, OSError):
            pass
    threads = [threading.Thread(target=stop, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.monotonic() + 120
    left = list(users)
    while left and time.monotonic() < deadline:
        still = []
        for u in left:
            try:
                status, body = request(hub.hub_port, "GET", f"/hub/api/users/{u}", token)
                if status == 200 and json.loads(body).get("servers"):
                    still.append(u)
            except (http.client.HTTPException, OSError, ValueError):
                still.append(u)
        left = still
        if left:
            time.sleep(0.5)
    if left:
        log(f"{len(left)} servers still there after the DELETE; the hub's cleanup_servers stops them")


# ---------------------------------------------------------------- report


def report(args, results, load_before, load_after):
    lines = []
    add = lines.append
    add(f"Run {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}; ferrohub {args.ferrohub_label} "
        f"(`{args.ferrohub}`).")
    add("")
    add(f"- Machine: {machine_facts()}. Other work used {load_before:.2f} cores just before and "
        f"{load_after:.2f} just after.")
    add(f"- Per engine: {args.spawns} servers asked for at once (`POST /hub/api/users/<u>/server`, admin token, "
        f"one client thread per user), each followed on its progress stream; the server is the virtualenv's "
        f"`jupyterhub-singleuser`.")
    add("- Engine time: the spawner's start (\"Spawning server\" to \"Server process started\") plus the wait "
        "for the server's HTTP (\"Waiting for the server to answer\" to \"The server answered\"); hub time: "
        "the rest of request to ready. CPU: utime + stime of the process over the whole batch, divided by "
        "the number of spawns.")
    add("")
    add("| engine | ready | request to ready p50 / p95 / max | engine time p50 / p95 / max "
        "| hub time p50 / p95 / max | hub CPU per spawn | proxy CPU per spawn | batch |")
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")

    def trio(r, key, digits):
        return " / ".join(f"{r[f'{key}_{q}_s']:.{digits}f}" for q in ("p50", "p95", "max")) + " s"

    for r in results:
        if "error" in r:
            first_line = r["error"].strip().splitlines()[0] if r["error"].strip() else "?"
            add(f"| {r['title']} | not measured: {first_line} |" + " |" * 6)
            continue
        add(f"| {r['title']} | {r['ready']} of {r['spawns']} | {trio(r, 'total', 2)} | {trio(r, 'engine', 2)} "
            f"| {trio(r, 'hub', 3)} | {r['hub_cpu_per_spawn_ms']:.1f} ms | {r['proxy_cpu_per_spawn_ms']:.1f} ms "
            f"| {r['wall_s']:.1f} s |")
    for r in results:
        for u, why in r.get("failures", {}).items():
            add(f"\n- {r['engine']}: {u} not ready: {why}")
    return "\n".join(lines) + "\n"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ferrohub", required=True, help="the ferrohub binary")
    p.add_argument("--ferrohub-proxy", required=True, help="the ferrohub-proxy binary")
    p.add_argument("--ferrohub-label", default="?", help="what was built (commit), for the report")
    p.add_argument("--spawns", type=int, default=20, help="concurrent spawns per engine (default 20)")
    p.add_argument("--timeout", type=int, default=600,
                   help="Spawner.start_timeout and http_timeout, seconds (default 600)")
    p.add_argument("--only", default="", help="comma-separated engines, of: "
                   + ", ".join(e.name for e in ENGINES))
    p.add_argument("--log-level", default="warn", help="the hub's log level (default warn)")
    p.add_argument("--output", help="also write the markdown report here")
    p.add_argument("--json", help="also write the raw results (every event's time) here")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args()
    known = {e.name for e in ENGINES}
    args.only = [n for n in args.only.split(",") if n]
    unknown = set(args.only) - known
    if unknown:
        p.error(f"unknown engine(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    if args.spawns < 1:
        p.error("--spawns must be at least 1")
    return args


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = tempfile.mkdtemp(prefix="ferrohub-spawn-")
    os.chmod(workdir, 0o755)

    def measure_one(engine, here):
        users = engine.users(args.spawns)
        engine.start(here, users)
        return measure(args, engine, here, users)

    try:
        results, load_before, load_after = run_each(
            ENGINES, args.only, workdir, measure_one,
            lambda engine, err: {"engine": engine.name, "title": engine.title, "error": err})
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    write_outputs(args, report(args, results, load_before, load_after), results)
    return 0 if all("error" not in r and r["ready"] == r["spawns"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
