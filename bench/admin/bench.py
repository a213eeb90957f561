#!/usr/bin/env python3
"""Admin page benchmark: the hub time of the admin page's first page with
10,000 users, ferrohub against upstream JupyterHub, in one run.

Run through bench/admin/run.sh, which builds ferrohub and passes the binaries in.
Standard library only (plus `taskset`). The hubs are the same as in
bench/api/bench.py (imported from there): each in its own temporary directory
with its own SQLite database, dummy authenticator and free loopback ports,
pinned to one CPU, talked to directly on their hub port (no proxy).

What one visit is, as an admin's browser makes it after signing in:
  1. `GET /hub/admin` with the login cookie (the page's HTML);
  2. the first users request the page's script makes, with the login cookie
     and the page's XSRF token: `GET /hub/api/users?include_stopped_servers=1
     &offset=0&limit=50` with `Accept: application/jupyterhub-pagination+json`.
The script and stylesheet are versioned static files a browser keeps, so they
are not part of a visit. Per request this measures the time from sending the
request to the last byte of the answer (loopback, one request at a time; the
hub does all the work in that time); the hub's CPU time from /proc is taken
over --cpu-visits first pages in a row (/proc counts in 10 ms ticks).
Visits alternate between the hubs (ferrohub, upstream, upstream, ferrohub, ...).
Besides the first page it times the same API request sorted by name
descending and filtered by name (the page's other common requests).
"""

import argparse
import datetime
import http.cookiejar
import importlib.util
import json
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchkit import (  # noqa: E402
    background_load, log, machine_facts, proc_cpu_seconds, proc_status_kib, version_of, wait_quiet,
)

# The two hubs, their configuration and user creation: bench/api's.
_spec = importlib.util.spec_from_file_location("api_bench", os.path.join(HERE, "..", "api", "bench.py"))
api_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api_bench)

PAGINATION = api_bench.PAGINATION
ADMIN_USER = api_bench.ADMIN_USER


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Stop at the login's redirect (following it could start a server)."""

    def redirect_request(self, *args, **kwargs):
        return None


class AdminBrowser:
    """An admin signed in to one hub: a cookie jar and the page's XSRF token."""

    def __init__(self, hub):
        self.hub = hub
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)
        self.xsrf = None

    def get(self, path, headers=None):
        req = urllib.request.Request(self.hub.base + path, method="GET")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with self.opener.open(req, timeout=60) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def login(self):
        status, body = self.get("/hub/login")
        if status != 200:
            raise RuntimeError(f"{self.hub.label}: login form {status}")
        xsrf = re.search(rb'name="_xsrf" value="([^"]+)"', body).group(1).decode()
        form = urllib.parse.urlencode({"_xsrf": xsrf, "username": ADMIN_USER, "password": "bench"}).encode()
        req = urllib.request.Request(self.hub.base + "/hub/login", data=form, method="POST")
        try:
            with self.opener.open(req, timeout=60) as resp:
                status = resp.status
        except urllib.error.HTTPError as err:
            status = err.code
        if status != 302:
            raise RuntimeError(f"{self.hub.label}: login answered {status}")

    def page(self):
        """`GET /hub/admin`: (seconds, hub CPU seconds)."""
        cpu, started = proc_cpu_seconds(self.hub.pid), time.perf_counter()
        status, body = self.get("/hub/admin")
        elapsed, cpu = time.perf_counter() - started, proc_cpu_seconds(self.hub.pid) - cpu
        if status != 200:
            raise RuntimeError(f"{self.hub.label}: /hub/admin answered {status}: {body[:500]!r}")
        # ferrohub puts the token on the page's root element, upstream in window.jhdata.
        found = re.search(rb'data-xsrf="([^"]+)"', body) or re.search(rb'xsrf_token: "([^"]+)"', body)
        if not found:
            raise RuntimeError(f"{self.hub.label}: no XSRF token on the admin page")
        self.xsrf = found.group(1).decode()
        return elapsed, cpu

    def users(self, query, expect_total=None, expect_items=None):
        """One users request as the page's script makes it: (seconds, hub CPU seconds)."""
        headers = {"Accept": PAGINATION, "X-XSRFToken": self.xsrf}
        cpu, started = proc_cpu_seconds(self.hub.pid), time.perf_counter()
        status, body = self.get(f"/hub/api/users?{query}", headers)
        elapsed, cpu = time.perf_counter() - started, proc_cpu_seconds(self.hub.pid) - cpu
        if status != 200:
            raise RuntimeError(f"{self.hub.label}: users?{query} answered {status}: {body[:500]!r}")
        data = json.loads(body)
        total, items = data["_pagination"]["total"], len(data["items"])
        if (expect_total is not None and total != expect_total) or (
            expect_items is not None and items != expect_items
        ):
            raise RuntimeError(f"{self.hub.label}: users?{query}: {items} of {total} users")
        return elapsed, cpu


FIRST_PAGE = "include_stopped_servers=1&offset=0&limit=50"
OTHERS = [
    ("sorted by name, descending", "include_stopped_servers=1&offset=0&limit=50&sort=-name"),
    ("filtered by name (`u09`, 1,000 match), by name", "include_stopped_servers=1&offset=0&limit=50&sort=name&name_filter=u09"),
]


def visit(browser, n_users):
    page_s, page_cpu = browser.page()
    api_s, api_cpu = browser.users(FIRST_PAGE, expect_total=n_users + 1, expect_items=50)
    others = [browser.users(query, expect_items=50) for _, query in OTHERS]
    return {
        "page_ms": page_s * 1e3, "page_cpu_ms": page_cpu * 1e3,
        "api_ms": api_s * 1e3, "api_cpu_ms": api_cpu * 1e3,
        "total_ms": (page_s + api_s) * 1e3, "total_cpu_ms": (page_cpu + api_cpu) * 1e3,
        "others_ms": [s * 1e3 for s, _ in others],
    }


def report(args, runs, cold, cpu, setup, load_before, load_after, rss):
    hubs = ("ferrohub", "upstream")
    med = lambda name, key: statistics.median(r[key] for r in runs[name])  # noqa: E731
    worst = lambda name, key: max(r[key] for r in runs[name])  # noqa: E731
    lines = []
    add = lines.append
    add(f"Run {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}; ferrohub {args.ferrohub_label} "
        f"(release build), upstream JupyterHub {version_of([args.jupyterhub, '--version'])}.")
    add("")
    add(f"- Machine: {machine_facts()}.")
    add(f"- {args.users:,} users plus the admin in each hub's SQLite database; both hubs pinned to CPU "
        f"{args.hub_cpu}, at log level WARN; requests straight to the hub port, one at a time.")
    add(f"- {args.warmup} warm-up visits per hub, then {args.runs} measured visits per hub, interleaved. "
        f"Other work used {load_before:.2f} cores just before and {load_after:.2f} just after.")
    add("")
    add("| First page (median of visits; worst in brackets) | ferrohub | upstream | ratio |")
    add("| --- | ---: | ---: | ---: |")
    rows = [
        ("`GET /hub/admin` (the HTML)", "page_ms"),
        ("first `GET /hub/api/users?…&limit=50` of the page", "api_ms"),
        ("**both: the admin page's first page**", "total_ms"),
    ]
    for title, key in rows:
        f, u = med("ferrohub", key), med("upstream", key)
        add(f"| {title} | {f:.1f} ms ({worst('ferrohub', key):.1f}) | {u:.1f} ms ({worst('upstream', key):.1f}) "
            f"| {f / u:.3f}× |")
    f, u = cpu["ferrohub"], cpu["upstream"]
    add(f"| hub CPU per first page (over {args.cpu_visits} more visits in a row) | {f:.2f} ms | {u:.2f} ms "
        f"| {f / u:.3f}× |")
    for i, (title, _) in enumerate(OTHERS):
        f = statistics.median(r["others_ms"][i] for r in runs["ferrohub"])
        u = statistics.median(r["others_ms"][i] for r in runs["upstream"])
        add(f"| users request {title} | {f:.1f} ms | {u:.1f} ms | {f / u:.3f}× |")
    f, u = cold["ferrohub"]["total_ms"], cold["upstream"]["total_ms"]
    add(f"| first visit after start-up and user creation (page + users) | {f:.1f} ms | {u:.1f} ms | {f / u:.3f}× |")
    add(f"| hub RSS after the visits | {rss['ferrohub'] / 1024:.1f} MiB | {rss['upstream'] / 1024:.1f} MiB "
        f"| {rss['ferrohub'] / rss['upstream']:.2f}× |")
    add(f"| creating the users (`POST /hub/api/users`, {args.batch} a request) | {setup['ferrohub']:.1f} s "
        f"| {setup['upstream']:.1f} s | {setup['ferrohub'] / setup['upstream']:.2f}× |")
    add("")
    target = med("ferrohub", "total_ms")
    add(f"Target: under 200 ms of hub time for the first page; ferrohub's median is {target:.1f} ms, "
        f"its worst {worst('ferrohub', 'total_ms'):.1f} ms.")
    return "\n".join(lines) + "\n"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ferrohub", required=True, help="the ferrohub binary")
    p.add_argument("--ferrohub-proxy", required=True, help="the ferrohub-proxy binary (proxy of both hubs)")
    p.add_argument("--ferrohub-label", default="?", help="what was built (commit), for the report")
    p.add_argument("--jupyterhub", required=True, help="upstream's jupyterhub command")
    p.add_argument("--users", type=int, default=10_000, help="users in each database (default 10,000)")
    p.add_argument("--batch", type=int, default=1000, help="users created per POST (default 1000)")
    p.add_argument("--runs", type=int, default=10, help="measured visits per hub (default 10, at least 5)")
    p.add_argument("--cpu-visits", type=int, default=100,
                   help="first pages in a row over which hub CPU is measured (default 100)")
    p.add_argument("--warmup", type=int, default=2, help="unmeasured visits per hub first (default 2)")
    p.add_argument("--no-pin", action="store_true", help="do not pin the hubs to CPU 1")
    p.add_argument("--max-background", type=float, default=0.25,
                   help="cores of other work to wait for before measuring (default 0.25)")
    p.add_argument("--wait-quiet", type=int, default=120, help="seconds to wait for a quiet machine (default 120)")
    p.add_argument("--output", help="also write the markdown report here")
    p.add_argument("--json", help="write every visit's raw numbers here")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = p.parse_args()
    if args.runs < 5:
        p.error("--runs must be at least 5")
    pin = not args.no_pin and shutil.which("taskset") and os.cpu_count() >= 2
    args.hub_cpu = 1 if pin else None
    return args


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = tempfile.mkdtemp(prefix="ferrohub-admin-bench-")
    os.chmod(workdir, 0o755)
    hubs = {
        "ferrohub": api_bench.Ferrohub(os.path.join(workdir, "ferrohub"), args.hub_cpu, args.ferrohub,
                                       args.ferrohub_proxy, "warn"),
        "upstream": api_bench.Upstream(os.path.join(workdir, "upstream"), args.hub_cpu, args.jupyterhub,
                                       args.ferrohub_proxy, "warn"),
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
    setup, browsers, cold = {}, {}, {}
    for name, hub in hubs.items():
        log(f"starting {name} (hub port {hub.hub_port}, logs in {hub.log_path})")
        hub.start()
    for name, hub in hubs.items():
        log(f"creating {args.users:,} users in {name}")
        setup[name] = api_bench.create_users(hub, args.users, args.batch)
        log(f"  {setup[name]:.1f} s")
        browsers[name] = AdminBrowser(hub)
        browsers[name].login()
        cold[name] = visit(browsers[name], args.users)
        for _ in range(args.warmup):
            visit(browsers[name], args.users)
    load_before = wait_quiet(args.max_background, args.wait_quiet)
    runs = {name: [] for name in hubs}
    for round_ in range(args.runs):
        order = list(hubs) if round_ % 2 == 0 else list(reversed(hubs))
        for name in order:
            r = visit(browsers[name], args.users)
            runs[name].append(r)
            log(f"visit {round_ + 1}/{args.runs} {name:8}: page {r['page_ms']:7.1f} ms + users "
                f"{r['api_ms']:7.1f} ms = {r['total_ms']:7.1f} ms")
    load_after = background_load(2.0)
    rss = {name: proc_status_kib(hub.pid, "VmRSS") for name, hub in hubs.items()}
    # CPU time: /proc counts in clock ticks (10 ms), too coarse for one visit,
    # so it is taken over many first pages in a row.
    cpu = {}
    for name, hub in hubs.items():
        browser, before = browsers[name], proc_cpu_seconds(hub.pid)
        for _ in range(args.cpu_visits):
            browser.page()
            browser.users(FIRST_PAGE, expect_total=args.users + 1, expect_items=50)
        cpu[name] = (proc_cpu_seconds(hub.pid) - before) / args.cpu_visits * 1e3
        log(f"{name}: {cpu[name]:.2f} ms of hub CPU per first page over {args.cpu_visits} visits")
    text = report(args, runs, cold, cpu, setup, load_before, load_after, rss)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "cold": cold, "cpu_ms": cpu, "setup_s": setup}, f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
