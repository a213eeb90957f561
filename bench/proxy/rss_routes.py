"""RSS of a proxy with 10,000 routes: starts the proxy (CHP's command line)
pinned to one CPU, adds /user/u00000 ... /user/u09999 one POST at a time
with the data JupyterHub 6 sends, and prints the RSS at start, with the
routes, and after listing them. Compare builds by alternating runs:

    for i in 1 2 3; do
        python3 bench/proxy/rss_routes.py /tmp/old/ferrohub-proxy
        python3 bench/proxy/rss_routes.py target/release/ferrohub-proxy
    done
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import time

ROUTES = 10_000
TOKEN = "rss-routes-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    port, api = free_port(), free_port()
    env = dict(os.environ, CONFIGPROXY_AUTH_TOKEN=TOKEN)
    proxy = subprocess.Popen(
        ["taskset", "-c", "1", binary, "--ip", "127.0.0.1", "--port", str(port),
         "--api-ip", "127.0.0.1", "--api-port", str(api), "--log-level", "warn"],
        env=env, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        start = rss_mib(proxy.pid)
        conn = http.client.HTTPConnection("127.0.0.1", api)
        auth = {"Authorization": f"token {TOKEN}"}
        for i in range(ROUTES):
            name = f"u{i:05}"
            body = {"user": name, "server_name": "", "jupyterhub": True,
                    "target": "http://127.0.0.1:8888"}
            conn.request("POST", f"/api/routes/user/{name}", body=json.dumps(body), headers=auth)
            reply = conn.getresponse()
            reply.read()
            if reply.status != 201:
                raise RuntimeError(f"POST {name}: {reply.status}")
        time.sleep(0.5)
        routes = rss_mib(proxy.pid)
        conn.request("GET", "/api/routes", headers=auth)
        listing = conn.getresponse().read()
        listed = rss_mib(proxy.pid)
        print(f"{binary}: start {start:.1f} MiB, {ROUTES:,} routes {routes:.1f} MiB, "
              f"after listing them {listed:.1f} MiB ({len(listing):,} bytes listed)")
    finally:
        proxy.terminate()
        proxy.wait()


if __name__ == "__main__":
    main()
