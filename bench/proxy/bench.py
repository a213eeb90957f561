#!/usr/bin/env python3
"""Proxy benchmark: ferrohub-proxy against configurable-http-proxy, in one run.

Run through bench/proxy/run.sh, which builds ferrohub-proxy and the helper
`proxybench` (bench/proxy/wsbench) and passes them in. Standard library only
(plus the `wrk` and `taskset` commands).

One backend (`proxybench serve`: HTTP/1.1 answering every request with the same
122-byte JSON body, and websocket echo on the same port) serves three paths
to it, measured one at a time:

  direct          the load generator talks to the backend itself (reference);
  ferrohub-proxy  through ferrohub-proxy;
  CHP             through configurable-http-proxy 5.3.0 (node);
  nginx           through nginx (Debian's, one worker, upstream keep-alive,
                  no buffering), as a reference: what a mature C proxy costs
                  on the same machine (a fixed prefix config, no route API).

Both proxies run for the whole benchmark, started with the same command line
(`--ip 127.0.0.1 --port P --api-ip 127.0.0.1 --api-port A`, token in
CONFIGPROXY_AUTH_TOKEN), and get their routes through the same REST API calls.

Measured:
  - HTTP with wrk (keep-alive, --latency) on `GET /user/u05000/api/status`,
    first with the single route /user/u05000, then with 10,000 routes
    /user/u00000 .. /user/u09999: requests/s, p50/p99 latency, and the proxy's
    CPU per request (utime+stime of the proxy process from /proc/<pid>/stat
    over the requests done), which does not depend on the pinning; then, with
    10,000 routes, one connection (one request at a time): the latency a proxy
    adds when it is not loaded;
  - websocket echo messages/s and round-trip p50/p99 with N connections, each
    sending a 256-byte text message and waiting for its echo (proxybench
    ws-load), and the proxy's CPU per round trip;
  - the proxy's RSS (VmRSS, VmHWM from /proc/<pid>/status) idle after start,
    with 10,000 routes, after the load runs and with 1,000 websockets held open;
  - the time to add 10,000 routes (10 concurrent API connections, as
    JupyterHub's ConfigurableHTTPProxy.concurrency) and to GET the whole table,
    and the slowest proxied request while that GET runs (does it stall traffic?);
  - HTTP to a real notebook server: ferrohub (the hub, release build) spawns
    a real jupyterhub-singleuser for user "bench" from the project's
    virtualenv; wrk (8 connections) sends `GET /user/bench/api/status` with
    the user's API token, direct and through each proxy, in two layouts:
    the server on the load generator's CPU (the proxy has a CPU of its own,
    as in the runs above) and the server on the proxy's CPU (the hub host's
    case: the proxy takes CPU from the notebook servers);
  - the CPU used meanwhile by everything else on the machine ("background"),
    from /proc/stat less the proxy's, the backend's and the load generator's
    own, so a run disturbed by other work is repeated.
"""

import argparse
import datetime
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchkit import (  # noqa: E402
    background_load, children_cpu_seconds, fmt, free_port, log, machine_busy_seconds,
    machine_facts, median, parse_ms, proc_cpu_seconds, proc_status_kib, version_of, wait_quiet,
    Process, wait_until,
)


TOKEN = secrets.token_hex(16)
ROUTE_USER = "u05000"  # the route every measured request goes to
HTTP_PATH = f"/user/{ROUTE_USER}/api/status"
WS_PATH = f"/user/{ROUTE_USER}/api/kernels/6f0c2a1e/channels"
BACKEND_BODY_PREFIX = b'{"connections": 0, "kernels": 1,'

PATHS = ("direct", "ferrohub", "chp", "nginx")
TITLES = {"direct": "direct to backend", "ferrohub": "ferrohub-proxy", "chp": "CHP 5.3.0",
          "nginx": "nginx (reference, fixed config)"}
PROXIES = ("ferrohub", "chp")
NOTEBOOK_USER = "bench"  # the hub user whose real notebook server is measured
NOTEBOOK_PATH = f"/user/{NOTEBOOK_USER}/api/status"


# ---------------------------------------------------------------- /proc readers


def proc_threads(pid):
    return proc_status_kib(pid, "Threads")


# ------------------------------------------------------------------- processes


def http_get(url, token=None, timeout=60):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


class Path:
    """One way to the backend: direct, or through one of the proxies."""

    def __init__(self, key, port, process=None, api_port=None):
        self.key, self.title = key, TITLES[key]
        self.port, self.process, self.api_port = port, process, api_port
        self.request_path, self.token = HTTP_PATH, None

    def for_notebook(self, port=None):
        """The same way in, to the notebook server (direct: on its port)."""
        other = Path(self.key, port or self.port, self.process, self.api_port)
        other.request_path = NOTEBOOK_PATH
        return other

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self):
        return f"ws://127.0.0.1:{self.port}"

    @property
    def api(self):
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def log(self):
        return self.process.log() if self.process else ""


def start_backend(args, workdir):
    port = free_port()
    cmd = [args.proxybench, "serve", "--port", str(port)]
    if args.load_cpu is not None:
        cmd += ["--threads", "1"]  # it sees one CPU anyway: skip the work-stealing scheduler
    proc = Process("backend", cmd, args.load_cpu, os.path.join(workdir, "backend.log"))
    wait_until("backend", lambda: http_get(f"http://127.0.0.1:{port}/")[0] == 200, proc)
    return port, proc


def start_proxy(key, binary, args, workdir):
    port, api_port = free_port(), free_port()
    cmd = [binary, "--ip", "127.0.0.1", "--port", str(port),
           "--api-ip", "127.0.0.1", "--api-port", str(api_port),
           "--log-level", args.log_level]
    env = dict(os.environ, CONFIGPROXY_AUTH_TOKEN=TOKEN)
    env.pop("RUST_LOG", None)
    proc = Process(key, cmd, args.proxy_cpu, os.path.join(workdir, f"{key}.log"), env)
    path = Path(key, port, proc, api_port)
    wait_until(key, lambda: http_get(path.api + "/api/routes", TOKEN)[0] == 200, proc)
    return path


NGINX_CONF = """\
worker_processes 1;
master_process off;
daemon off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {d}/nginx-body;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    upstream backend {{ server 127.0.0.1:{backend}; keepalive 64; }}
    upstream notebook {{ server 127.0.0.1:{notebook}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_buffering off;
        proxy_request_buffering off;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        location /user/{user}/ {{ proxy_pass http://notebook; }}
        location / {{ proxy_pass http://backend; }}
    }}
}}
"""


def start_nginx(args, workdir, backend_port, notebook_port):
    """nginx as a reference proxy: every path to the trivial backend but the
    notebook user's, which goes to the real notebook server. One process
    (no master), so its CPU time is the pid's own."""
    port = free_port()
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(d=workdir, backend=backend_port, notebook=notebook_port or 9,
                                  port=port, user=NOTEBOOK_USER))
    proc = Process("nginx", [args.nginx, "-c", conf, "-p", workdir], args.proxy_cpu,
                   os.path.join(workdir, "nginx.log"))
    path = Path("nginx", port, proc)
    wait_until("nginx", lambda: http_get(path.base + HTTP_PATH)[0] == 200, proc)
    return path


class NotebookHub:
    """ferrohub with the dummy authenticator, spawning one real
    jupyterhub-singleuser (user "bench") from the project's virtualenv."""

    def __init__(self, args, workdir):
        self.dir = os.path.join(workdir, "hub")
        os.makedirs(self.dir, mode=0o755)
        self.hub_port, self.public_port, self.api_port = free_port(), free_port(), free_port()
        self.token = secrets.token_hex(16)
        venv = args.venv
        allow_root = '"--allow-root"' if os.geteuid() == 0 else ""
        config = f"""\
[JupyterHub]
bind_url = "http://127.0.0.1:{self.public_port}"
hub_bind_url = "http://127.0.0.1:{self.hub_port}"
db_url = "sqlite:///{self.dir}/ferrohub.sqlite"
cookie_secret_file = "{self.dir}/cookie_secret"
authenticator_class = "dummy"
spawner_class = "simple"
log_level = "warn"
services = [{{ name = "bench", api_token = "{self.token}" }}]
load_roles = [{{ name = "admin", services = ["bench"] }}]
[ConfigurableHTTPProxy]
command = ["{args.ferrohub_proxy}"]
api_url = "http://127.0.0.1:{self.api_port}"
auth_token = "{TOKEN}"
[Spawner]
cmd = ["{venv}/bin/jupyterhub-singleuser"]
args = [{allow_root}]
start_timeout = 120
http_timeout = 120
environment = {{ PATH = "{venv}/bin:/usr/local/bin:/usr/bin:/bin" }}
[SimpleLocalProcessSpawner]
home_dir_template = "{self.dir}/homes/{{username}}"
"""
        conf = os.path.join(self.dir, "ferrohub.toml")
        with open(conf, "w") as f:
            f.write(config)
        # The hub idles during the runs; it shares the load generator's CPU.
        self.process = Process("hub", [args.ferrohub_hub, "-f", conf], args.load_cpu,
                               os.path.join(workdir, "hub.log"))
        wait_until("ferrohub", lambda: http_get(f"http://127.0.0.1:{self.hub_port}/hub/api")[0] == 200,
                   self.process)

    def api(self, method, path, body=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.hub_port}/hub/api{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        req.add_header("Authorization", f"token {self.token}")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=120) as resp:
            text = resp.read()
            return json.loads(text) if text else None

    def spawn(self):
        """Starts the server; returns (its port, its pid, a token of the user)."""
        self.api("POST", f"/users/{NOTEBOOK_USER}")
        self.api("POST", f"/users/{NOTEBOOK_USER}/server", {})
        deadline = time.monotonic() + 180
        while not self.api("GET", f"/users/{NOTEBOOK_USER}")["servers"].get("", {}).get("ready"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the notebook server did not start; log:\n{self.process.log()}")
            time.sleep(0.5)
        token = self.api("POST", f"/users/{NOTEBOOK_USER}/tokens", {"note": "bench"})["token"]
        status, routes = http_get(f"http://127.0.0.1:{self.api_port}/api/routes", TOKEN)
        target = json.loads(routes)[f"/user/{NOTEBOOK_USER}"]["target"]
        port = int(target.rsplit(":", 1)[1].split("/")[0])
        return port, self.server_pid(), token

    @staticmethod
    def server_pid():
        want = f"JUPYTERHUB_USER={NOTEBOOK_USER}".encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if want in f.read().split(b"\0"):
                        with open(f"/proc/{entry}/cmdline", "rb") as c:
                            if b"jupyterhub-singleuser" in c.read():
                                return int(entry)
            except OSError:
                continue
        raise RuntimeError("cannot find the notebook server's process")

    def stop(self):
        self.process.stop()
        try:  # the server is in a session of its own: stop it too
            os.kill(self.server_pid(), signal.SIGTERM)
        except (RuntimeError, ProcessLookupError):
            pass


def pin(pid, cpu):
    """Moves every thread of a running process to one CPU."""
    if cpu is not None:
        subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(pid)], check=True,
                       capture_output=True)


# ----------------------------------------------------------------- proxybench


def proxybench(args, *argv, timeout=600):
    cmd = [args.proxybench, *map(str, argv)]
    if args.load_cpu is not None:
        cmd = ["taskset", "-c", str(args.load_cpu)] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def add_routes(args, path, backend_port, first, count):
    return proxybench(args, "add-routes", "--api", path.api, "--token", TOKEN,
                      "--target", f"http://127.0.0.1:{backend_port}",
                      "--first", first, "--count", count, "--concurrency", args.api_concurrency)


def add_route(path, route, target):
    req = urllib.request.Request(path.api + "/api/routes" + route, method="POST",
                                 data=json.dumps({"target": target}).encode())
    req.add_header("Authorization", f"token {TOKEN}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        if resp.status != 201:
            raise RuntimeError(f"{path.title}: adding {route} answered {resp.status}")


def notebook_phase(args, paths, nb_port, nb_pid, nb_token):
    """wrk against the real notebook server, direct and through each proxy,
    with the server on the load generator's CPU, then on the proxies'."""
    nb_paths = [p.for_notebook(nb_port if p.key == "direct" else None) for p in paths]
    for p in nb_paths:
        p.token = nb_token
    results = {}
    for layout, cpu in (("apart", args.load_cpu), ("together", args.proxy_cpu)):
        pin(nb_pid, cpu)
        for p in nb_paths:
            status, body = http_get(p.base + NOTEBOOK_PATH, nb_token)
            if status != 200 or b"last_activity" not in body:
                raise RuntimeError(f"{p.title} {NOTEBOOK_PATH}: {status} {body[:200]!r}\n{p.log()}")
            if args.warmup:
                run_wrk(args, p, nb_pid, args.warmup, args.notebook_connections)
        results[layout] = rounds(args, f"notebook {layout}", nb_paths,
                                 lambda p: run_wrk(args, p, nb_pid, args.duration,
                                                   args.notebook_connections))
    pin(nb_pid, args.load_cpu)
    return results


def check_http(path):
    """One request by hand, so a wrong route fails loudly, not fast."""
    status, body = http_get(path.base + HTTP_PATH)
    if status != 200 or not body.startswith(BACKEND_BODY_PREFIX):
        raise RuntimeError(f"{path.title} {HTTP_PATH}: {status} {body[:200]!r}\n{path.log()}")


# ------------------------------------------------------------------------- wrk


class Meter:
    """CPU of the proxy, the backend, the load generator and the machine over
    one run."""

    def __init__(self, path, backend_pid):
        self.path, self.backend_pid = path, backend_pid

    def __enter__(self):
        self.proxy0 = proc_cpu_seconds(self.path.pid)
        self.backend0 = proc_cpu_seconds(self.backend_pid)
        self.busy0, self.children0 = machine_busy_seconds(), children_cpu_seconds()
        self.wall0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.wall0
        self.proxy = proc_cpu_seconds(self.path.pid) - self.proxy0
        self.backend = proc_cpu_seconds(self.backend_pid) - self.backend0
        self.loadgen = children_cpu_seconds() - self.children0
        self.busy = machine_busy_seconds() - self.busy0

    def background(self):
        return max(0.0, (self.busy - self.proxy - self.backend - self.loadgen) / self.wall)


def run_wrk(args, path, backend_pid, duration, connections):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-T10s",
           path.base + path.request_path]
    if path.token:
        cmd[1:1] = ["-H", f"Authorization: token {path.token}"]
    if args.load_cpu is not None:
        cmd = ["taskset", "-c", str(args.load_cpu)] + cmd
    with Meter(path, backend_pid) as m:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(non2xx.group(1)) if non2xx else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(map(int, errors.groups())) if errors else 0
    if non2xx or errors or requests == 0:
        raise RuntimeError(f"{path.title}: {non2xx} non-2xx responses, {errors} socket errors in "
                           f"{requests} requests; wrk said:\n{out}\nlog:\n{path.log()}")
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    mean, _, worst = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out).groups()
    return {
        "mean_ms": parse_ms(mean),
        "max_ms": parse_ms(worst),
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "cpu_us": m.proxy / requests * 1e6 if path.pid else None,
        "proxy_cores": m.proxy / m.wall,
        "backend_cpu_us": m.backend / requests * 1e6,
        "p50_ms": parse_ms(latency["50"]),
        "p99_ms": parse_ms(latency["99"]),
        "background": m.background(),
    }


def run_ws(args, path, backend_pid, duration, warmup):
    with Meter(path, backend_pid) as m:
        r = proxybench(args, "ws-load", "--url", path.ws_base + WS_PATH,
                       "--connections", args.ws_connections, "--size", args.ws_size,
                       "--duration", duration, "--warmup", warmup)
    if r["messages"] == 0:
        raise RuntimeError(f"{path.title}: no websocket message echoed\n{path.log()}")
    return {
        "rps": r["rate"],
        "messages": r["messages"],
        "cpu_us": m.proxy / r["total_messages"] * 1e6 if path.pid else None,
        "proxy_cores": m.proxy / m.wall,
        "backend_cpu_us": m.backend / r["total_messages"] * 1e6,
        "p50_ms": r["p50_ms"],
        "p99_ms": r["p99_ms"],
        "background": m.background(),
    }


def stall_during_table_fetch(args, path, times):
    """Max and p99 latency of proxied requests (wrk, 1 connection) while the
    whole route table is fetched `times` times back to back."""
    cmd = ["wrk", "-t1", "-c1", f"-d{args.stall_seconds}s", "--latency", "-T10s", path.base + HTTP_PATH]
    if args.load_cpu is not None:
        cmd = ["taskset", "-c", str(args.load_cpu)] + cmd
    wrk = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        fetched = proxybench(args, "get-routes", "--api", path.api, "--token", TOKEN, "--times", times)
    finally:
        out = wrk.communicate(timeout=args.stall_seconds + 60)[0]
    if wrk.returncode != 0 or "Non-2xx" in out:
        raise RuntimeError(f"{path.title}: wrk during the table fetches failed:\n{out}")
    max_ms = parse_ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out).group(1))
    p99 = parse_ms(re.search(r"^\s+99%\s+(\S+)$", out, re.M).group(1))
    return {"max_ms": max_ms, "p99_ms": p99, "fetch_ms": fetched["ms"]}


def measure(args, label, run):
    """One run, repeated (up to --retries) while other work disturbed it."""
    best = None
    for attempt in range(args.retries + 1):
        wait_quiet(args.max_background, args.wait_quiet)
        result = run()
        result["attempts"] = attempt + 1
        if best is None or result["background"] < best["background"]:
            best = result
        if result["background"] <= args.max_background:
            break
        if attempt < args.retries:
            log(f"  {label}: {result['background']:.2f} cores of background load; again")
    return best


def rounds(args, label, paths, run_one):
    """--runs rounds over the paths, alternating their order."""
    results = {p.key: [] for p in paths}
    for round_ in range(args.runs):
        order = paths if round_ % 2 == 0 else list(reversed(paths))
        for p in order:
            r = measure(args, f"{label} {p.key}", lambda p=p: run_one(p))
            results[p.key].append(r)
            cpu = f"{r['cpu_us']:7.1f} µs proxy CPU" if r["cpu_us"] is not None else " " * 21
            log(f"run {round_ + 1}/{args.runs} {label:9} {p.key:8}: {r['rps']:9,.0f}/s  {cpu}  "
                f"p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  background {r['background']:.2f}")
    return results


def hold_websockets(args, path, n):
    """Opens n websockets through path, returns the proxy's RSS while held."""
    cmd = [args.proxybench, "ws-hold", "--url", path.ws_base + WS_PATH, "--connections", str(n)]
    if args.load_cpu is not None:
        cmd = ["taskset", "-c", str(args.load_cpu)] + cmd
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("ready"):
            proc.wait(timeout=30)
            raise RuntimeError(f"{path.title}: holding {n} websockets failed (exit {proc.returncode})")
        time.sleep(1)
        return proc_status_kib(path.pid, "VmRSS")
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------- report


def traffic_table(add, results, unit, per):
    """Rows: path; columns: rate, ratio to direct, latency, proxy CPU."""
    add(f"| Path | {unit} | × direct | latency p50 / p99 | proxy CPU µs/{per} | proxy CPU busy "
        f"| {unit} spread |")
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    direct = median(results["direct"], "rps")
    for key in (k for k in PATHS if k in results):
        r = results[key]
        rate = median(r, "rps")
        cpu = f"{median(r, 'cpu_us'):.1f}" if key != "direct" else "–"
        busy = f"{median(r, 'proxy_cores'):.2f} cores" if key != "direct" else "–"
        rates = [x["rps"] for x in r]
        add(f"| {TITLES[key]} | {fmt(rate)} | {rate / direct:.2f}× | "
            f"{median(r, 'p50_ms'):.2f} / {median(r, 'p99_ms'):.2f} ms | {cpu} | {busy} | "
            f"{fmt(min(rates))}–{fmt(max(rates))} |")


def ratio_row(add, title, results, key="rps", digits=1, better="higher"):
    f, c = median(results["ferrohub"], key), median(results["chp"], key)
    add(f"| {title} | {fmt(f, 0 if key == 'rps' else 1)} | {fmt(c, 0 if key == 'rps' else 1)} "
        f"| **{f / c:.{digits}f}×** |")


def report(args, http, serial, ws, notebook, memory, setup, table, stall, backgrounds, elapsed):
    lines = []
    add = lines.append
    add(f"Run {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}; ferrohub-proxy {args.ferrohub_label} "
        f"(release build), configurable-http-proxy {version_of([args.chp, '--version'])} on node "
        f"{version_of(['node', '--version'])}, {version_of(['wrk', '--version'])}.")
    add("")
    add(f"- Machine: {machine_facts()}.")
    pin = (f"proxy under test on CPU {args.proxy_cpu}; backend and load generator on CPU "
           f"{args.load_cpu} (`taskset`)" if args.load_cpu is not None else "nothing pinned")
    add(f"- Pinning: {pin}.")
    add(f"- HTTP: wrk, 1 thread, {args.connections} keep-alive connections, `GET {HTTP_PATH}` "
        f"(backend answers 200 with a 122-byte JSON body); {args.duration} s per run, {args.runs} runs "
        f"per cell (median shown) after a {args.warmup} s warm-up.")
    add(f"- Websocket: {args.ws_connections} connections, each sending a {args.ws_size}-byte text "
        f"message and waiting for the echo; {args.duration} s per run, {args.runs} runs per cell "
        f"after a {args.warmup} s warm-up.")
    add(f"- Both proxies at `--log-level {args.log_level}`, logging to a file. "
        f"The measuring took {elapsed / 60:.1f} min (builds not counted).")
    all_runs = [r for res in (http[1], http[args.routes], serial or {}, ws) for v in res.values() for r in v]
    add(f"- Quiet machine: other work used {backgrounds[0]:.2f} cores just before the runs and "
        f"{backgrounds[1]:.2f} just after; during runs at most "
        f"{max(r['background'] for r in all_runs):.2f} cores (runs above {args.max_background} "
        f"were repeated, up to {args.retries} times).")
    add("")
    for n in (1, args.routes):
        add(f"HTTP requests, {n:,} route{'s' if n > 1 else ''} in the table:")
        add("")
        traffic_table(add, http[n], "req/s", "req")
        add("")
    if serial:
        add(f"HTTP requests one at a time (wrk, 1 connection), {args.routes:,} routes: the latency a "
            "proxy adds when it is not loaded:")
        add("")
        add("| Path | req/s | latency p50 / p99 | p50 added to direct | proxy CPU µs/req |")
        add("| --- | ---: | ---: | ---: | ---: |")
        d50 = median(serial["direct"], "p50_ms")
        for key in (k for k in PATHS if k in serial):
            r = serial[key]
            added = f"+{(median(r, 'p50_ms') - d50) * 1000:.0f} µs" if key != "direct" else "–"
            cpu = f"{median(r, 'cpu_us'):.1f}" if key != "direct" else "–"
            add(f"| {TITLES[key]} | {fmt(median(r, 'rps'))} | {median(r, 'p50_ms') * 1000:.0f} / "
                f"{median(r, 'p99_ms') * 1000:.0f} µs | {added} | {cpu} |")
        add("")
    add(f"Websocket echo, {args.ws_connections} connections:")
    add("")
    traffic_table(add, ws, "messages/s", "msg")
    add("")
    layouts = {
        "apart": "the server on the load generator's CPU, each proxy on a CPU of its own",
        "together": "the server on the proxies' CPU (as on a hub host, where the proxy takes CPU "
                    "from the notebook servers); the load generator alone on the other",
    }
    for layout, title in layouts.items():
        if layout not in notebook:
            continue
        add(f"HTTP to a real notebook server (jupyterhub-singleuser spawned by ferrohub), "
            f"`GET {NOTEBOOK_PATH}` with the user's token, {args.notebook_connections} connections; "
            f"{title}:")
        add("")
        traffic_table(add, notebook[layout], "req/s", "req")
        add("")
    add("| ferrohub-proxy against CHP | ferrohub-proxy | CHP | ratio |")
    add("| --- | ---: | ---: | ---: |")
    ratio_row(add, "HTTP req/s, 1 route", http[1])
    ratio_row(add, f"HTTP req/s, {args.routes:,} routes", http[args.routes])
    ratio_row(add, "websocket messages/s", ws)
    ratio_row(add, "proxy CPU µs per request, 1 route", http[1], "cpu_us", 2)
    ratio_row(add, f"proxy CPU µs per request, {args.routes:,} routes", http[args.routes], "cpu_us", 2)
    ratio_row(add, "proxy CPU µs per websocket round trip", ws, "cpu_us", 2)
    add("")
    add("| Memory (proxy process) and route table | ferrohub-proxy | CHP | ratio |")
    add("| --- | ---: | ---: | ---: |")
    rows = [
        ("RSS idle, after start", "rss_idle"),
        (f"RSS with {args.routes:,} routes", "rss_routes"),
        ("RSS after the HTTP load runs", "rss_http"),
        ("Peak RSS (VmHWM) after the HTTP load runs", "hwm_http"),
        ("RSS after the websocket runs", "rss_ws"),
        (f"RSS with {args.hold:,} websockets open", "rss_hold"),
        ("Peak RSS (VmHWM) at the end", "hwm_end"),
    ]
    for title, key in rows:
        f, c = memory["ferrohub"][key], memory["chp"][key]
        add(f"| {title} | {f / 1024:.1f} MiB | {c / 1024:.1f} MiB | {f / c:.2f}× |")
    f, c = memory["ferrohub"]["threads"], memory["chp"]["threads"]
    add(f"| Threads of the proxy process | {f} | {c} | |")
    f, c = setup["ferrohub"], setup["chp"]
    add(f"| Adding {args.routes:,} routes (`POST /api/routes/user/<name>`, "
        f"{args.api_concurrency} connections) | {f:.2f} s | {c:.2f} s | {f / c:.2f}× |")
    f, c = table["ferrohub"], table["chp"]
    add(f"| `GET /api/routes`, whole table ({f['bytes'] / 1e6:.2f} / {c['bytes'] / 1e6:.2f} MB), "
        f"median of {len(f['ms'])} | {statistics.median(f['ms']):.1f} ms | "
        f"{statistics.median(c['ms']):.1f} ms | {statistics.median(f['ms']) / statistics.median(c['ms']):.2f}× |")
    f, c = stall["ferrohub"], stall["chp"]
    add(f"| Slowest proxied request (1 connection) while `GET /api/routes` runs {args.stall_fetches} times "
        f"back to back | {f['max_ms']:.1f} ms | {c['max_ms']:.1f} ms | {f['max_ms'] / c['max_ms']:.2f}× |")
    add("")
    h1, hn = http[1], http[args.routes]
    add("Against the targets (medians of this run):")
    add("")
    for n, res in ((1, h1), (args.routes, hn)):
        fd = median(res["ferrohub"], "rps") / median(res["direct"], "rps")
        fc = median(res["ferrohub"], "rps") / median(res["chp"], "rps")
        add(f"- {n:,} route{'s' if n > 1 else ''}: ferrohub-proxy at {fd:.2f}× direct "
            f"(target ≥ 0.9×: {'met' if fd >= 0.9 else 'missed'}) and {fc:.1f}× CHP's req/s "
            f"(target ≥ 3×: {'met' if fc >= 3 else 'missed'}).")
        if "nginx" in res:
            nd = median(res["nginx"], "rps") / median(res["direct"], "rps")
            add(f"  - nginx, for reference, at {nd:.2f}× direct.")
    fd = median(ws["ferrohub"], "rps") / median(ws["direct"], "rps")
    fc = median(ws["ferrohub"], "rps") / median(ws["chp"], "rps")
    add(f"- Websocket: ferrohub-proxy at {fd:.2f}× direct and {fc:.1f}× CHP's messages/s.")
    for layout, res in notebook.items():
        ratios = ", ".join(f"{TITLES[k]} {median(res[k], 'rps') / median(res['direct'], 'rps'):.2f}×"
                           for k in PATHS if k in res and k != "direct")
        add(f"- Real notebook server, server {'apart from' if layout == 'apart' else 'with'} the proxy: "
            f"{ratios} direct.")
    add(f"- Memory: ferrohub-proxy's RSS is {memory['ferrohub']['rss_routes'] / memory['chp']['rss_routes']:.2f}× "
        f"CHP's with {args.routes:,} routes and "
        f"{memory['ferrohub']['hwm_end'] / memory['chp']['hwm_end']:.2f}× at peak.")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------ main


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ferrohub-proxy", required=True, help="the ferrohub-proxy binary")
    p.add_argument("--ferrohub-label", default="?", help="what was built (commit), for the report")
    p.add_argument("--chp", required=True, help="configurable-http-proxy's command")
    p.add_argument("--proxybench", required=True, help="the proxybench helper (bench/proxy/wsbench)")
    p.add_argument("--routes", type=int, default=10_000, help="routes in the big table (default 10,000)")
    p.add_argument("--api-concurrency", type=int, default=10,
                   help="API connections adding routes (default 10, JupyterHub's concurrency)")
    p.add_argument("--duration", type=int, default=8, help="seconds per run (default 8)")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per cell (default 3)")
    p.add_argument("--runs", type=int, default=5, help="runs per cell; the median is reported (default 5)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    p.add_argument("--no-serial", dest="serial", action="store_false",
                   help="skip the one-connection latency runs (10,000 routes)")
    p.add_argument("--ws-connections", type=int, default=32, help="websocket connections (default 32)")
    p.add_argument("--ws-size", type=int, default=256, help="websocket message bytes (default 256)")
    p.add_argument("--table-times", type=int, default=5, help="GETs of the whole route table (default 5)")
    p.add_argument("--stall-fetches", type=int, default=10,
                   help="GETs of the whole table while proxied requests are timed (default 10)")
    p.add_argument("--stall-seconds", type=int, default=3,
                   help="seconds of proxied requests around those GETs (default 3)")
    p.add_argument("--hold", type=int, default=1000, help="websockets held open for the RSS figure (default 1000)")
    p.add_argument("--log-level", choices=["info", "warn", "error"], default="info",
                   help="log level of both proxies (default info, as JupyterHub starts CHP; "
                        "neither logs proxied requests at info)")
    p.add_argument("--no-pin", action="store_true", help="do not pin the proxies and the load to separate CPUs")
    p.add_argument("--max-background", type=float, default=0.25,
                   help="cores of other work above which a run is repeated (default 0.25)")
    p.add_argument("--retries", type=int, default=2, help="repeats of a disturbed run (default 2)")
    p.add_argument("--wait-quiet", type=int, default=120,
                   help="seconds to wait for a quiet machine before each run (default 120)")
    p.add_argument("--output", help="also write the markdown report here")
    p.add_argument("--json", help="write every run's raw numbers here")
    p.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx",
                   help="nginx, the reference proxy (default: from PATH)")
    p.add_argument("--no-nginx", action="store_true", help="leave nginx out")
    p.add_argument("--ferrohub-hub", help="the ferrohub hub binary, to spawn a real notebook server")
    p.add_argument("--venv", default=os.environ.get("FERROHUB_VENV", "/opt/ferrohub/venv"),
                   help="virtualenv with jupyterhub-singleuser (default /opt/ferrohub/venv)")
    p.add_argument("--notebook-connections", type=int, default=8,
                   help="wrk connections to the real notebook server (default 8)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = p.parse_args()
    if args.no_nginx or not os.path.exists(args.nginx):
        args.nginx = None
    pin = not args.no_pin and shutil.which("taskset") and os.cpu_count() >= 2
    args.proxy_cpu, args.load_cpu = (1, 0) if pin else (None, None)
    return args


def main():
    args = parse_args()
    # SIGTERM and SIGINT unwind through the finally below, which stops everything.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = tempfile.mkdtemp(prefix="ferrohub-proxy-bench-")
    started = []
    try:
        return run(args, workdir, started)
    finally:
        for proc in reversed(started):
            proc.stop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args, workdir, started):
    t0 = time.monotonic()
    backend_port, backend = start_backend(args, workdir)
    started.append(backend)
    direct = Path("direct", backend_port)
    nb_port = nb_pid = nb_token = None
    if args.ferrohub_hub:
        log("starting ferrohub and a real notebook server")
        hub = NotebookHub(args, workdir)
        started.append(hub)
        nb_port, nb_pid, nb_token = hub.spawn()
        pin(nb_pid, args.load_cpu)
    proxies = {}
    for key, binary in (("ferrohub", args.ferrohub_proxy), ("chp", args.chp)):
        log(f"starting {TITLES[key]} (logs in {workdir})")
        path = start_proxy(key, binary, args, workdir)
        started.append(path.process)
        proxies[key] = path
    paths = [direct, proxies["ferrohub"], proxies["chp"]]
    if args.nginx:
        log("starting nginx (reference)")
        paths.append(start_nginx(args, workdir, backend_port, nb_port))
        started.append(paths[-1].process)
    if nb_port:
        for path in proxies.values():
            add_route(path, f"/user/{NOTEBOOK_USER}", f"http://127.0.0.1:{nb_port}")
    memory = {key: {} for key in PROXIES}
    time.sleep(2)
    for key, path in proxies.items():
        memory[key]["rss_idle"] = proc_status_kib(path.pid, "VmRSS")
        memory[key]["threads"] = proc_threads(path.pid)

    def http_phase(label, connections):
        for path in paths:
            check_http(path)
            if args.warmup:
                run_wrk(args, path, backend.pid, args.warmup, connections)
        return rounds(args, label, paths,
                      lambda p: run_wrk(args, p, backend.pid, args.duration, connections))

    http, setup, table = {}, {}, {}
    # The single route the measured requests go to (u05000 is in the big table too).
    for key, path in proxies.items():
        add_routes(args, path, backend_port, int(ROUTE_USER[1:]), 1)
    backgrounds = [wait_quiet(args.max_background, args.wait_quiet)]
    http[1] = http_phase("http 1", args.connections)

    for key, path in proxies.items():
        wait_quiet(args.max_background, args.wait_quiet)
        log(f"adding {args.routes:,} routes to {TITLES[key]}")
        setup[key] = add_routes(args, path, backend_port, 0, args.routes)["seconds"]
        time.sleep(1)
        memory[key]["rss_routes"] = proc_status_kib(path.pid, "VmRSS")
        log(f"  {setup[key]:.2f} s; RSS {memory[key]['rss_routes'] / 1024:.1f} MiB")
    for key, path in proxies.items():
        wait_quiet(args.max_background, args.wait_quiet)
        table[key] = proxybench(args, "get-routes", "--api", path.api, "--token", TOKEN,
                                "--times", args.table_times)
        # u05000 is in the table if it was not among the routes added; and
        # the notebook server's route.
        want = args.routes + (int(ROUTE_USER[1:]) >= args.routes) + (nb_port is not None)
        if table[key]["routes"] != want:
            raise RuntimeError(f"{TITLES[key]}: GET /api/routes lists {table[key]['routes']} routes, "
                               f"want {want}")
        log(f"  GET /api/routes on {TITLES[key]}: {table[key]['bytes']:,} bytes, "
            f"{', '.join(f'{ms:.1f}' for ms in table[key]['ms'])} ms")
    stall = {}
    for key, path in proxies.items():
        wait_quiet(args.max_background, args.wait_quiet)
        stall[key] = stall_during_table_fetch(args, path, args.stall_fetches)
        log(f"  proxied requests while fetching the table from {TITLES[key]}: "
            f"max {stall[key]['max_ms']:.1f} ms, p99 {stall[key]['p99_ms']:.1f} ms")
    http[args.routes] = http_phase(f"http {args.routes}", args.connections)
    serial = http_phase("serial", 1) if args.serial else None
    for key, path in proxies.items():
        memory[key]["rss_http"] = proc_status_kib(path.pid, "VmRSS")
        memory[key]["hwm_http"] = proc_status_kib(path.pid, "VmHWM")

    for path in paths:
        run_ws(args, path, backend.pid, args.warmup or 1, 0)  # warm-up, and a check
    ws = rounds(args, "websocket", paths, lambda p: run_ws(args, p, backend.pid, args.duration, 1))
    for key, path in proxies.items():
        memory[key]["rss_ws"] = proc_status_kib(path.pid, "VmRSS")
    notebook = notebook_phase(args, paths, nb_port, nb_pid, nb_token) if nb_port else {}
    for key, path in proxies.items():
        log(f"holding {args.hold:,} websockets open through {TITLES[key]}")
        memory[key]["rss_hold"] = hold_websockets(args, path, args.hold)
        memory[key]["hwm_end"] = proc_status_kib(path.pid, "VmHWM")
        log(f"  RSS {memory[key]['rss_hold'] / 1024:.1f} MiB")
    backgrounds.append(background_load(2.0))
    elapsed = time.monotonic() - t0
    log(f"done in {elapsed:.0f} s")

    text = report(args, http, serial, ws, notebook, memory, setup, table, stall, backgrounds, elapsed)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"http": {str(k): v for k, v in http.items()}, "serial": serial, "ws": ws,
                       "notebook": notebook, "memory_kib": memory,
                       "setup_s": setup, "get_routes": table, "stall": stall}, f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
