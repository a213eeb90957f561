"""Unloaded added latency of plain HTTP through each proxy (issue 16's
measure): wrk with one connection and an nginx backend answering a short
text share CPU 0, each proxy is pinned to CPU 1. Every way in (direct,
ferrohub-proxy, its --variant settings, CHP, nginx) is measured once per
round, in turn; the report gives the median of wrk's mean latency and the
latency each proxy adds to the direct connection. Run through latency.sh,
which builds what it needs.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from benchkit import background_load, free_port, log, machine_facts, wait_quiet  # noqa: E402
from ws_python import TOKEN, add_route, parse_variant, start, wait_port  # noqa: E402

BACKEND_CONF = """\
worker_processes 1;
master_process off;
daemon off;
pid {d}/backend.pid;
error_log {d}/backend-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "hello from the backend"; }}
    }}
}}
"""

PROXY_CONF = """\
worker_processes 1;
master_process off;
daemon off;
pid {d}/proxy.pid;
error_log {d}/proxy-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    upstream backend {{ server 127.0.0.1:{backend}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""

UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6}


def wrk_latency_us(load_cpu, url, seconds):
    out = subprocess.run(["taskset", "-c", str(load_cpu), "wrk", "-t1", "-c1", f"-d{seconds}s", url],
                         capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr}")
    m = re.search(r"Latency\s+([\d.]+)(us|ms|s)\b", out.stdout)
    if not m:
        raise RuntimeError(f"no latency in wrk's output:\n{out.stdout}")
    return float(m.group(1)) * UNITS_US[m.group(2)]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ferrohub-proxy", required=True)
    p.add_argument("--chp", required=True)
    p.add_argument("--nginx", default="/usr/sbin/nginx")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--duration", type=int, default=4, help="seconds of wrk per cell")
    p.add_argument("--load-cpu", type=int, default=0)
    p.add_argument("--proxy-cpu", type=int, default=1)
    p.add_argument("--variant", action="append", default=[],
                   metavar="NAME=BINARY[;ENV=VALUE...][;--FLAG[=VALUE]...]",
                   help="another ferrohub-proxy build or setting measured beside the others "
                        "(e.g. 'busy-poll=target/release/ferrohub-proxy;--busy-poll=300'); repeatable")
    p.add_argument("--output")
    args = p.parse_args()

    titles = {"direct": "direct", "ferrohub": "ferrohub-proxy"}
    proxies = [("ferrohub", args.ferrohub_proxy, {}, [])]
    for spec in args.variant:
        name, binary, env, flags = parse_variant(spec)
        proxies.append((name, binary, env, flags))
        titles[name] = f"ferrohub-proxy ({name})"
    proxies.append(("chp", args.chp, {}, []))
    titles.update(chp="CHP", nginx="nginx")

    work = tempfile.mkdtemp(prefix="latency-")
    logs = open(os.path.join(work, "all.log"), "w")
    procs, urls = [], {}
    started = time.time()
    try:
        backend = free_port()
        with open(os.path.join(work, "backend.conf"), "w") as f:
            f.write(BACKEND_CONF.format(d=work, port=backend))
        procs.append(start([args.nginx, "-c", os.path.join(work, "backend.conf"), "-p", work],
                           args.load_cpu, logs))
        wait_port(backend, procs[-1], "backend nginx")
        urls["direct"] = f"http://127.0.0.1:{backend}/user/u/x"
        env = dict(os.environ, CONFIGPROXY_AUTH_TOKEN=TOKEN)
        env.pop("RUST_LOG", None)
        for key, binary, extra, flags in proxies:
            port, api = free_port(), free_port()
            procs.append(start([binary, "--ip", "127.0.0.1", "--port", str(port), "--api-ip",
                                "127.0.0.1", "--api-port", str(api), "--log-level", "warn", *flags],
                               args.proxy_cpu, logs, dict(env, **extra)))
            wait_port(api, procs[-1], key)
            add_route(api, f"http://127.0.0.1:{backend}")
            urls[key] = f"http://127.0.0.1:{port}/user/u/x"
        port = free_port()
        with open(os.path.join(work, "proxy.conf"), "w") as f:
            f.write(PROXY_CONF.format(d=work, port=port, backend=backend))
        procs.append(start([args.nginx, "-c", os.path.join(work, "proxy.conf"), "-p", work],
                           args.proxy_cpu, logs))
        wait_port(port, procs[-1], "nginx")
        urls["nginx"] = f"http://127.0.0.1:{port}/user/u/x"

        load_before = background_load(1.0)
        results = {way: [] for way in urls}
        for rnd in range(args.rounds):
            for way, url in urls.items():
                wait_quiet(0.3, 30)
                results[way].append(wrk_latency_us(args.load_cpu, url, args.duration))
                log(f"round {rnd + 1}: {titles[way]} {results[way][-1]:.1f} µs")
        load_after = background_load(1.0)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    direct = statistics.median(results["direct"])
    lines = []
    add = lines.append
    add(f"Run {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}, {args.rounds} "
        f"interleaved rounds of {args.duration} s per way; wrk (1 thread, 1 connection) and "
        f"the nginx backend on CPU {args.load_cpu}, each proxy on CPU {args.proxy_cpu}.")
    add("")
    add(f"- Machine: {machine_facts()}. Other work used {load_before:.2f} cores just "
        f"before and {load_after:.2f} just after.")
    add("- wrk's mean latency per request, median of the rounds (min–max in brackets); "
        "added latency is the median minus the direct connection's median.")
    add("")
    add("| way | latency | added |")
    add("|---|---:|---:|")
    for way, values in results.items():
        med = statistics.median(values)
        added = "" if way == "direct" else f"+{(med - direct) / 1000:.3f} ms"
        add(f"| {titles[way]} | {med:.1f} µs ({min(values):.0f}–{max(values):.0f}) | {added} |")
    text = "\n".join(lines)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
