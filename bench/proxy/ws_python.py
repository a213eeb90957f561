"""Websocket relay benchmark with the Python `websockets` package on both
ends (pyws.py): client and echo server share one CPU, each proxy is pinned
to the other. For every mode, every way in (direct, ferrohub-proxy,
configurable-http-proxy, nginx) is measured once per round, in turn, for
--rounds rounds; the report gives medians, ratios and the proxy's CPU per
message. Run through ws_python.sh, which builds and installs what it needs.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from benchkit import (  # noqa: E402
    background_load,
    free_port,
    log,
    machine_facts,
    proc_cpu_seconds,
    proc_status_kib,
    wait_quiet,
)

TOKEN = "ws-python-bench-token"
MODES = [
    ("pingpong", 100, 1, "ping-pong, 100-byte messages, 1 connection"),
    ("stream", 100, 10, "stream, 100-byte messages, 10 connections"),
    ("stream", 65536, 4, "stream, 64 KiB messages, 4 connections"),
]
WAYS = ["direct", "ferrohub", "chp", "nginx"]
TITLES = {
    "direct": "direct",
    "ferrohub": "ferrohub-proxy",
    "chp": "CHP",
    "nginx": "nginx",
}

NGINX_CONF = """\
worker_processes 1;
master_process off;
daemon off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/nginx-body;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{backend};
            proxy_http_version 1.1;
            proxy_buffering off;
            proxy_read_timeout 3600s;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }}
    }}
}}
"""


def wait_port(port, proc, what):
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode})")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def start(cmd, cpu, logfile, env=None):
    return subprocess.Popen(["taskset", "-c", str(cpu), *cmd], stdout=logfile,
                            stderr=subprocess.STDOUT, env=env)


def add_route(api_port, target):
    import json
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{api_port}/api/routes/", method="POST",
                                 data=json.dumps({"target": target}).encode())
    req.add_header("Authorization", f"token {TOKEN}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 201, resp.status


def parse_variant(spec):
    """`NAME=BINARY[;ENV=VALUE...][;--FLAG[=VALUE]...]` → (name, binary, env, flags)."""
    name, rest = spec.split("=", 1)
    binary, *settings = rest.split(";")
    flags = [x for x in settings if x.startswith("-")]
    env = dict(x.split("=", 1) for x in settings if not x.startswith("-"))
    return name, binary, env, flags


def run_client(args, port, mode, size, connections):
    import json

    out = subprocess.run(
        ["taskset", "-c", str(args.load_cpu), args.python, args.pyws, "run",
         "--url", f"ws://127.0.0.1:{port}/ws", "--mode", mode, "--size", str(size),
         "--connections", str(connections), "--duration", str(args.duration),
         "--warmup", str(args.warmup)],
        capture_output=True, text=True, timeout=args.duration + args.warmup + 120)
    if out.returncode != 0:
        raise RuntimeError(f"client failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ferrohub-proxy", required=True)
    p.add_argument("--chp", required=True)
    p.add_argument("--nginx", default="/usr/sbin/nginx")
    p.add_argument("--python", required=True, help="a python with websockets 17")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--load-cpu", type=int, default=0)
    p.add_argument("--proxy-cpu", type=int, default=1)
    p.add_argument("--only", default="", help="comma-separated ways (direct,ferrohub,chp,nginx)")
    p.add_argument("--variant", action="append", default=[],
                   metavar="NAME=BINARY[;ENV=VALUE...][;--FLAG[=VALUE]...]",
                   help="another ferrohub-proxy build or setting measured beside the others "
                        "(e.g. 'before=/tmp/old/ferrohub-proxy', "
                        "'busy=target/release/ferrohub-proxy;--busy-poll=300'); repeatable")
    p.add_argument("--neighbour", action="store_true",
                   help="run a CPU-bound process on the proxy's CPU during each cell and "
                        "report the share of that CPU it got: what a proxy's polling costs "
                        "other work on its core")
    p.add_argument("--output")
    args = p.parse_args()
    args.pyws = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyws.py")
    ways = [w for w in WAYS if not args.only or w in args.only.split(",")]
    variants = {}
    for spec in args.variant:
        name, binary, env, flags = parse_variant(spec)
        variants[name] = (binary, env, flags)
        TITLES[name] = f"ferrohub-proxy ({name})"
        ways.insert(ways.index("chp") if "chp" in ways else len(ways), name)

    work = tempfile.mkdtemp(prefix="ws-python-")
    logs = open(os.path.join(work, "all.log"), "w")
    procs = []
    started = time.time()
    try:
        backend_port = free_port()
        server = start([args.python, args.pyws, "serve", "--port", str(backend_port)],
                       args.load_cpu, logs)
        procs.append(server)
        wait_port(backend_port, server, "echo server")
        ports, pids = {"direct": backend_port}, {}
        env = dict(os.environ, CONFIGPROXY_AUTH_TOKEN=TOKEN)
        env.pop("RUST_LOG", None)
        proxies = [("ferrohub", args.ferrohub_proxy, {}, []), ("chp", args.chp, {}, [])]
        proxies += [(name, *variant) for name, variant in variants.items()]
        for key, binary, extra, flags in proxies:
            if key not in ways:
                continue
            port, api = free_port(), free_port()
            proc = start([binary, "--ip", "127.0.0.1", "--port", str(port), "--api-ip",
                          "127.0.0.1", "--api-port", str(api), "--log-level", "warn", *flags],
                         args.proxy_cpu, logs, dict(env, **extra))
            procs.append(proc)
            wait_port(api, proc, key)
            add_route(api, f"http://127.0.0.1:{backend_port}")
            ports[key], pids[key] = port, proc.pid
        if "nginx" in ways:
            port = free_port()
            conf = os.path.join(work, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(d=work, port=port, backend=backend_port))
            proc = start([args.nginx, "-c", conf, "-p", work], args.proxy_cpu, logs)
            procs.append(proc)
            wait_port(port, proc, "nginx")
            ports["nginx"], pids["nginx"] = port, proc.pid

        neighbour = None
        if args.neighbour:
            neighbour = start([sys.executable, "-c", "while True: pass"], args.proxy_cpu, logs)
            procs.append(neighbour)
            neighbour.send_signal(signal.SIGSTOP)
        shares = {}  # (mode index, way) -> neighbour's share of the proxy's CPU
        load_before = background_load(1.0)
        results = {}  # (mode index, way) -> list of (rate, cpu µs per message)
        for rnd in range(args.rounds):
            for m, (mode, size, conns, title) in enumerate(MODES):
                for way in ways:
                    wait_quiet(0.3, 30)
                    cpu0 = proc_cpu_seconds(pids.get(way))
                    if neighbour:
                        neighbour.send_signal(signal.SIGCONT)
                        n_cpu0, n_wall0 = proc_cpu_seconds(neighbour.pid), time.monotonic()
                    got = run_client(args, ports[way], mode, size, conns)
                    if neighbour:
                        n_share = ((proc_cpu_seconds(neighbour.pid) - n_cpu0)
                                   / (time.monotonic() - n_wall0))
                        neighbour.send_signal(signal.SIGSTOP)
                        shares.setdefault((m, way), []).append(n_share)
                    cpu = proc_cpu_seconds(pids.get(way)) - cpu0
                    window = args.duration + args.warmup
                    per = cpu / max(1, got["messages"] * window / args.duration) * 1e6
                    results.setdefault((m, way), []).append((got["messages_per_s"], per))
                    log(f"round {rnd + 1}: {title}: {TITLES[way]} {got['messages_per_s']:,.0f}/s")
        rss = {w: proc_status_kib(pids[w], "VmRSS") / 1024 for w in pids}
        load_after = background_load(1.0)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    lines = []
    add = lines.append
    add(f"Run {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}, "
        f"{args.rounds} interleaved rounds of {args.duration:g} s (+{args.warmup:g} s warm-up) "
        f"per cell; client and echo server on CPU {args.load_cpu}, proxy on CPU {args.proxy_cpu}.")
    add("")
    add(f"- Machine: {machine_facts()}. Other work used {load_before:.2f} cores just "
        f"before and {load_after:.2f} just after.")
    add("- Python `websockets` 17 on both ends (compression off); messages echoed per second, "
        "median of the rounds (min–max in brackets); ratios against direct and CHP from the "
        "same rounds.")
    add("")
    head = "| mode | " + " | ".join(TITLES[w] for w in ways) + " |"
    add(head)
    add("|---|" + "---:|" * len(ways))
    for m, (_, _, _, title) in enumerate(MODES):
        cells = []
        direct = statistics.median(r for r, _ in results[(m, "direct")]) if "direct" in ways else None
        chp = statistics.median(r for r, _ in results[(m, "chp")]) if "chp" in ways else None
        for way in ways:
            rates = [r for r, _ in results[(m, way)]]
            med = statistics.median(rates)
            cell = f"{med:,.0f} ({min(rates):,.0f}–{max(rates):,.0f})"
            notes = []
            if direct and way != "direct":
                notes.append(f"{med / direct:.2f}× direct")
            if chp and way not in ("direct", "chp") and way in TITLES:
                notes.append(f"{med / chp:.2f}× CHP")
            if notes:
                cell += " " + ", ".join(notes)
            cells.append(cell)
        add(f"| {title} | " + " | ".join(cells) + " |")
    add("")
    add("Proxy CPU per message (µs, median):")
    add("")
    add("| mode | " + " | ".join(TITLES[w] for w in ways if w != "direct") + " |")
    add("|---|" + "---:|" * len([w for w in ways if w != "direct"]))
    for m, (_, _, _, title) in enumerate(MODES):
        cells = [f"{statistics.median(c for _, c in results[(m, w)]):.1f}"
                 for w in ways if w != "direct"]
        add(f"| {title} | " + " | ".join(cells) + " |")
    if shares:
        add("")
        add(f"Share of CPU {args.proxy_cpu} (the proxy's) that a CPU-bound neighbour got "
            "during each cell (median; 1.00 = all of it):")
        add("")
        add("| mode | " + " | ".join(TITLES[w] for w in ways) + " |")
        add("|---|" + "---:|" * len(ways))
        for m, (_, _, _, title) in enumerate(MODES):
            cells = [f"{statistics.median(shares[(m, w)]):.2f}" for w in ways]
            add(f"| {title} | " + " | ".join(cells) + " |")
    add("")
    add("RSS after the runs: " + ", ".join(f"{TITLES[w]} {v:.1f} MiB" for w, v in rss.items()))
    text = "\n".join(lines)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
