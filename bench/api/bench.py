#!/usr/bin/env python3
"""REST API benchmark: ferrohub against upstream JupyterHub, in one run.

Run through bench/api/run.sh, which builds ferrohub and passes the binaries in.
Standard library only (plus the `wrk` and `taskset` commands).

Both hubs run at the same time, each in its own temporary directory with its own
SQLite database and free loopback ports, and are loaded one at a time. The load
generator talks to each hub directly on its hub port, not through the proxy.

Per scenario and hub this measures, with wrk for a fixed duration:
  - requests/s (wrk's own figure, all responses of the expected status);
  - CPU per request: utime+stime of the hub process (all its threads, never its
    proxy) from /proc/<pid>/stat before and after the run, over requests done;
  - latency p50/p99 (wrk --latency);
  - the CPU used meanwhile by everything else on the machine ("background"),
    from /proc/stat less the hub's and wrk's own CPU, so a noisy run shows.
"""

import argparse
import datetime
import json
import os
import re
import secrets
import shutil
import signal
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


PAGINATION = "application/jupyterhub-pagination+json"
SERVICE_TOKEN = "bench-setup-" + secrets.token_hex(16)  # config token: setup only
PROXY_TOKEN = secrets.token_hex(16)
ADMIN_USER = "bench-admin"


# ---------------------------------------------------------------- /proc readers


# ------------------------------------------------------------------------ hubs


class Hub:
    """One hub process in a temporary directory, reached on its hub port."""

    label = "?"

    def __init__(self, workdir, cpu):
        self.dir = workdir
        os.makedirs(self.dir)
        self.cpu = cpu
        self.hub_port = free_port()
        self.public_port = free_port()
        self.api_port = free_port()
        self.process = None
        self.log_path = os.path.join(self.dir, "hub.log")

    @property
    def base(self):
        return f"http://127.0.0.1:{self.hub_port}"

    def command(self):
        raise NotImplementedError

    def start(self):
        env = dict(os.environ)
        env.pop("RUST_LOG", None)  # the config's log_level decides, for both hubs
        # A session of its own: its process group holds the hub and its proxy,
        # so stopping reaches both.
        self.process = Process(self.label, self.command(), self.cpu, self.log_path, env=env,
                               cwd=self.dir, stop_timeout=20)
        wait_until(self.label, lambda: self.request("GET", "/hub/api")[0] == 200, self.process)

    def stop(self):
        if self.process:
            self.process.stop()

    def log(self):
        return self.process.log() if self.process else ""

    @property
    def pid(self):
        return self.process.pid

    def request(self, method, path, token=None, body=None, headers=None, timeout=600):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if token:
            req.add_header("Authorization", f"token {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def api(self, method, path, body=None, expect=(200, 201)):
        status, reply = self.request(method, "/hub/api" + path, SERVICE_TOKEN, body)
        if status not in expect:
            raise RuntimeError(f"{self.label}: {method} {path} -> {status}: {reply}")
        return reply


class Ferrohub(Hub):
    label = "ferrohub"

    def __init__(self, workdir, cpu, binary, proxy, log_level):
        super().__init__(workdir, cpu)
        self.binary = binary
        d = self.dir
        config = f"""\
[JupyterHub]
bind_url = "http://127.0.0.1:{self.public_port}"
hub_bind_url = "http://127.0.0.1:{self.hub_port}"
db_url = "sqlite:///{d}/ferrohub.sqlite"
cookie_secret_file = "{d}/cookie_secret"
authenticator_class = "dummy"
spawner_class = "simple"
log_level = "{log_level}"
services = [{{ name = "bench-setup", api_token = "{SERVICE_TOKEN}" }}]
load_roles = [{{ name = "admin", services = ["bench-setup"], users = ["{ADMIN_USER}"] }}]
[ConfigurableHTTPProxy]
command = ["{proxy}"]
api_url = "http://127.0.0.1:{self.api_port}"
auth_token = "{PROXY_TOKEN}"
pid_file = "{d}/proxy.pid"
log_level = "{log_level}"
"""
        self.config = os.path.join(d, "ferrohub.toml")
        with open(self.config, "w") as f:
            f.write(config)

    def command(self):
        return [self.binary, "-f", self.config]


class Upstream(Hub):
    label = "upstream"

    def __init__(self, workdir, cpu, binary, proxy, log_level):
        super().__init__(workdir, cpu)
        self.binary = binary
        d = self.dir
        config = f"""\
c = get_config()  # noqa
c.JupyterHub.bind_url = "http://127.0.0.1:{self.public_port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{self.hub_port}"
c.JupyterHub.db_url = "sqlite:///{d}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{d}/cookie_secret"
c.JupyterHub.pid_file = "{d}/hub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "simple"
c.JupyterHub.log_level = "{log_level.upper()}"
c.JupyterHub.services = [{{"name": "bench-setup", "api_token": "{SERVICE_TOKEN}"}}]
c.JupyterHub.load_roles = [
    {{"name": "admin", "services": ["bench-setup"], "users": ["{ADMIN_USER}"]}},
]
c.ConfigurableHTTPProxy.command = ["{proxy}"]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.api_port}"
c.ConfigurableHTTPProxy.auth_token = "{PROXY_TOKEN}"
c.ConfigurableHTTPProxy.pid_file = "{d}/proxy.pid"
"""
        self.config = os.path.join(d, "jupyterhub_config.py")
        with open(self.config, "w") as f:
            f.write(config)

    def command(self):
        return [self.binary, "-f", self.config]


# ------------------------------------------------------------------- scenarios


class Scenario:
    def __init__(self, key, title, path, token_kind, status, headers=None):
        self.key, self.title, self.path = key, title, path
        self.token_kind, self.status = token_kind, status
        self.headers = headers or {}


def scenarios(page):
    return [
        Scenario("user", "`GET /hub/api/user`, user token (token check, accepted)",
                 "/hub/api/user", "user", 200),
        Scenario("users", f"`GET /hub/api/users?limit={page}`, admin token",
                 f"/hub/api/users?limit={page}", "admin", 200,
                 {"Accept": PAGINATION}),
        Scenario("bad", "`GET /hub/api/user`, unknown token (token check, 403)",
                 "/hub/api/user", "bad", 403),
        Scenario("floor", "`GET /hub/api`, no token (reference: no auth, no DB)",
                 "/hub/api", None, 200),
    ]


def tokens_for(hub, bad_token):
    user = hub.api("POST", "/users/u00000/tokens", {"note": "bench"})["token"]
    admin = hub.api("POST", f"/users/{ADMIN_USER}/tokens", {"note": "bench"})["token"]
    return {"user": user, "admin": admin, "bad": bad_token, None: None}


def check_scenario(hub, scenario, token, page, n_users):
    """One request by hand, so a wrong status or body fails loudly, not fast."""
    status, body = hub.request("GET", scenario.path, token, headers=scenario.headers)
    if status != scenario.status:
        raise RuntimeError(f"{hub.label} {scenario.path}: {status} (want {scenario.status}): {body}")
    if scenario.key == "users":
        items, total = body["items"], body["_pagination"]["total"]
        if len(items) != page or total != n_users + 1:
            raise RuntimeError(f"{hub.label}: {len(items)} users of {total}, want {page} of {n_users + 1}")
    if scenario.key == "user" and body.get("name") != "u00000":
        raise RuntimeError(f"{hub.label}: /user answered {body}")


def create_users(hub, n, batch):
    started = time.monotonic()
    for first in range(0, n, batch):
        names = [f"u{i:05d}" for i in range(first, min(n, first + batch))]
        created = hub.api("POST", "/users", {"usernames": names})
        if len(created) != len(names):
            raise RuntimeError(f"{hub.label}: created {len(created)} of {len(names)}")
    return time.monotonic() - started


# ------------------------------------------------------------------------- wrk


def run_wrk(hub, scenario, token, duration, connections, cpu):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-T10s"]
    if token:
        cmd += ["-H", f"Authorization: token {token}"]
    for name, value in scenario.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(hub.base + scenario.path)
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd

    hub_before, busy_before = proc_cpu_seconds(hub.pid), machine_busy_seconds()
    wrk_before, wall_before = children_cpu_seconds(), time.monotonic()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = time.monotonic() - wall_before
    hub_cpu = proc_cpu_seconds(hub.pid) - hub_before
    wrk_cpu = children_cpu_seconds() - wrk_before
    busy = machine_busy_seconds() - busy_before

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non2xx = int(non2xx.group(1)) if non2xx else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(map(int, errors.groups())) if errors else 0
    wrong = non2xx if scenario.status < 300 else requests - non2xx
    if wrong or errors or requests == 0:
        raise RuntimeError(
            f"{hub.label} {scenario.key}: {wrong} responses of the wrong status, "
            f"{errors} socket errors in {requests} requests; wrk said:\n{out}\nhub log:\n{hub.log()}"
        )
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "cpu_us": hub_cpu / requests * 1e6,
        "hub_cores": hub_cpu / wall,
        "p50_ms": parse_ms(latency["50"]),
        "p99_ms": parse_ms(latency["99"]),
        "background": max(0.0, (busy - hub_cpu - wrk_cpu) / wall),
    }


def measure(hub, scenario, token, args):
    """One run, repeated (up to --retries) while other work disturbed it."""
    best = None
    for attempt in range(args.retries + 1):
        wait_quiet(args.max_background, args.wait_quiet)
        result = run_wrk(hub, scenario, token, args.duration, args.connections, args.load_cpu)
        result["attempts"] = attempt + 1
        if best is None or result["background"] < best["background"]:
            best = result
        if result["background"] <= args.max_background:
            break
        log(f"  {hub.label} {scenario.key}: {result['background']:.2f} cores of background load; again")
    return best


# ---------------------------------------------------------------------- report


def report(args, results, memory, setup, load_before, load_after):
    hubs = ("ferrohub", "upstream")
    lines = []
    add = lines.append
    add(f"Run {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}; ferrohub {args.ferrohub_label} "
        f"(release build), upstream JupyterHub {version_of([args.jupyterhub, '--version'])}, "
        f"{version_of(['wrk', '--version'])}.")
    add("")
    add(f"- Machine: {machine_facts()}.")
    pin = (f"hub pinned to CPU {args.hub_cpu}, wrk to CPU {args.load_cpu} (`taskset`)"
           if args.load_cpu is not None else "nothing pinned")
    add(f"- Load: wrk, 1 thread, {args.connections} connections, {args.duration} s per run, "
        f"{args.runs} runs per cell (median shown) after a {args.warmup} s warm-up; {pin}.")
    add(f"- Database: SQLite, {args.users:,} users plus the admin; both hubs at log level {args.log_level.upper()}, "
        "logging to a file; requests go straight to the hub port (no proxy).")
    add(f"- Quiet machine: other work used {load_before:.2f} cores just before and "
        f"{load_after:.2f} just after; during runs at most "
        f"{max(r['background'] for v in results.values() for h in hubs for r in v[h]):.2f} cores "
        f"(runs above {args.max_background} were repeated, up to {args.retries} times).")
    add("")
    add("| Scenario | req/s ferrohub | req/s upstream | req/s ratio | CPU µs/req ferrohub "
        "| CPU µs/req upstream | CPU ratio |")
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for sc in scenarios(args.page):
        f, u = results[sc.key]["ferrohub"], results[sc.key]["upstream"]
        rf, ru = median(f, "rps"), median(u, "rps")
        cf, cu = median(f, "cpu_us"), median(u, "cpu_us")
        add(f"| {sc.title} | {fmt(rf)} | {fmt(ru)} | **{rf / ru:.1f}×** | {fmt(cf, 1)} | "
            f"{fmt(cu, 1)} | **{cf / cu:.2f}×** |")
    add("")
    add("Ratios are ferrohub / upstream: above 1 is better for req/s, below 1 is better for CPU.")
    add("")
    add("| Scenario | latency p50 / p99 ferrohub | latency p50 / p99 upstream | hub CPU busy ferrohub "
        "| hub CPU busy upstream | req/s spread ferrohub | req/s spread upstream |")
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for sc in scenarios(args.page):
        cells = []
        for h in hubs:
            r = results[sc.key][h]
            cells.append(f"{median(r, 'p50_ms'):.2f} / {median(r, 'p99_ms'):.2f} ms")
        for h in hubs:
            cells.append(f"{median(results[sc.key][h], 'hub_cores'):.2f} cores")
        for h in hubs:
            rps = [r["rps"] for r in results[sc.key][h]]
            cells.append(f"{fmt(min(rps))}–{fmt(max(rps))}")
        add(f"| {sc.key} | " + " | ".join(cells) + " |")
    add("")
    add("| Memory and set-up | ferrohub | upstream | ratio |")
    add("| --- | ---: | ---: | ---: |")
    rows = [
        ("RSS at start (empty database)", "rss_start"),
        (f"RSS after creating {args.users:,} users", "rss_users"),
        ("RSS after the load runs", "rss_end"),
        ("Peak RSS (VmHWM)", "hwm_end"),
    ]
    for title, key in rows:
        f, u = memory["ferrohub"][key], memory["upstream"][key]
        add(f"| {title} | {f / 1024:.1f} MiB | {u / 1024:.1f} MiB | {f / u:.2f}× |")
    f, u = setup["ferrohub"], setup["upstream"]
    add(f"| Creating {args.users:,} users (`POST /hub/api/users`, {args.batch} a request) | "
        f"{f:.1f} s | {u:.1f} s | {f / u:.2f}× |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------ main


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ferrohub", required=True, help="the ferrohub binary")
    p.add_argument("--ferrohub-proxy", required=True, help="the ferrohub-proxy binary (proxy of both hubs)")
    p.add_argument("--ferrohub-label", default="?", help="what was built (commit), for the report")
    p.add_argument("--jupyterhub", required=True, help="upstream's jupyterhub command")
    p.add_argument("--users", type=int, default=10_000, help="users in each database (default 10,000)")
    p.add_argument("--batch", type=int, default=1000, help="users created per POST (default 1000)")
    p.add_argument("--page", type=int, default=200, help="limit= of the user list (default 200)")
    p.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per cell (default 3)")
    p.add_argument("--runs", type=int, default=3, help="runs per cell; the median is reported (default 3)")
    p.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    p.add_argument("--log-level", choices=["warn", "error"], default="warn",
                   help="log level of both hubs (default warn; upstream logs every 4xx at warn)")
    p.add_argument("--no-pin", action="store_true", help="do not pin the hubs and wrk to separate CPUs")
    p.add_argument("--max-background", type=float, default=0.25,
                   help="cores of other work above which a run is repeated (default 0.25)")
    p.add_argument("--retries", type=int, default=2, help="repeats of a disturbed run (default 2)")
    p.add_argument("--wait-quiet", type=int, default=120,
                   help="seconds to wait for a quiet machine before each run (default 120)")
    p.add_argument("--output", help="also write the markdown report here")
    p.add_argument("--json", help="write every run's raw numbers here")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = p.parse_args()
    pin = not args.no_pin and shutil.which("taskset") and os.cpu_count() >= 2
    args.hub_cpu, args.load_cpu = (1, 0) if pin else (None, None)
    return args


def main():
    args = parse_args()
    # SIGTERM and SIGINT unwind through the finally below, which stops the hubs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = tempfile.mkdtemp(prefix="ferrohub-api-bench-")
    os.chmod(workdir, 0o755)
    hubs = {
        "ferrohub": Ferrohub(os.path.join(workdir, "ferrohub"), args.hub_cpu, args.ferrohub,
                             args.ferrohub_proxy, args.log_level),
        "upstream": Upstream(os.path.join(workdir, "upstream"), args.hub_cpu, args.jupyterhub,
                             args.ferrohub_proxy, args.log_level),
    }
    try:
        return run(args, hubs)
    finally:
        for hub in hubs.values():
            hub.stop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args, hubs):
    memory = {name: {} for name in hubs}
    setup, tokens = {}, {}
    bad_token = secrets.token_hex(16)  # the shape of a real token; no hub knows it
    for name, hub in hubs.items():
        log(f"starting {name} (hub port {hub.hub_port}, logs in {hub.log_path})")
        hub.start()
        time.sleep(1)
        memory[name]["rss_start"] = proc_status_kib(hub.pid, "VmRSS")
    for name, hub in hubs.items():
        log(f"creating {args.users:,} users in {name}")
        setup[name] = create_users(hub, args.users, args.batch)
        tokens[name] = tokens_for(hub, bad_token)
        memory[name]["rss_users"] = proc_status_kib(hub.pid, "VmRSS")
        log(f"  {setup[name]:.1f} s; RSS {memory[name]['rss_users'] / 1024:.1f} MiB")

    plan = scenarios(args.page)
    for sc in plan:
        for name, hub in hubs.items():
            check_scenario(hub, sc, tokens[name][sc.token_kind], args.page, args.users)
            if args.warmup:
                run_wrk(hub, sc, tokens[name][sc.token_kind], args.warmup, args.connections, args.load_cpu)

    load_before = wait_quiet(args.max_background, args.wait_quiet)
    results = {sc.key: {name: [] for name in hubs} for sc in plan}
    for round_ in range(args.runs):
        # Alternate which hub goes first, so slow drift hits both alike.
        order = list(hubs) if round_ % 2 == 0 else list(reversed(hubs))
        for sc in plan:
            for name in order:
                r = measure(hubs[name], sc, tokens[name][sc.token_kind], args)
                results[sc.key][name].append(r)
                log(f"run {round_ + 1}/{args.runs} {sc.key:5} {name:8}: {r['rps']:9,.0f} req/s "
                    f"{r['cpu_us']:8.1f} µs CPU/req  p99 {r['p99_ms']:.2f} ms  "
                    f"background {r['background']:.2f} cores")
    load_after = background_load(2.0)
    for name, hub in hubs.items():
        memory[name]["rss_end"] = proc_status_kib(hub.pid, "VmRSS")
        memory[name]["hwm_end"] = proc_status_kib(hub.pid, "VmHWM")

    text = report(args, results, memory, setup, load_before, load_after)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "memory_kib": memory, "setup_s": setup}, f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
