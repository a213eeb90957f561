"""A real kernel's output through ferrohub-proxy and straight from the
notebook server (issue 16): a client reads the kernel's websocket while a
cell prints 200,000 short lines, and while one returns a 5 MB image. The
time from sending the cell to the kernel going idle is measured, both ways
in alternation, for --rounds rounds.

Uses bench.py's NotebookHub: ferrohub spawning one real
jupyterhub-singleuser. The hub, the server and its kernel, and this client
run on CPU 0 (--load-cpu); a ferrohub-proxy of its own, routing the user's
prefix to the server, runs on CPU 1 (--proxy-cpu). Run with the bench
virtualenv's python (websockets 17), e.g. through kernel_ws.sh.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import bench  # noqa: E402
from benchkit import background_load, machine_facts, proc_cpu_seconds, wait_quiet  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

CELLS = [
    ("200,000 printed lines", "for i in range(200_000):\n    print(i)"),
    ("a 5 MB image", "import os\nfrom IPython.display import Image\n"
                     "Image(data=os.urandom(5 * 1024 * 1024), format='png')"),
]


def execute_request(code):
    msg_id = uuid.uuid4().hex
    return msg_id, json.dumps({
        "header": {"msg_id": msg_id, "username": "bench", "session": "bench",
                   "msg_type": "execute_request", "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    })


async def run_cell(url, token, code):
    """Seconds from sending `code` to the kernel's idle status for it, and
    the bytes of websocket messages read meanwhile."""
    async with connect(url, additional_headers={"Authorization": f"token {token}"},
                       max_size=None, compression=None) as ws:
        msg_id, request = execute_request(code)
        started = time.perf_counter()
        await ws.send(request)
        received = 0
        async for message in ws:
            received += len(message)
            msg = json.loads(message)
            if (msg.get("channel") == "iopub" and msg["header"]["msg_type"] == "status"
                    and msg["parent_header"].get("msg_id") == msg_id
                    and msg["content"]["execution_state"] == "idle"):
                return time.perf_counter() - started, received
    raise RuntimeError("the websocket closed before the kernel went idle")


def post(url, token, body):
    req = urllib.request.Request(url, method="POST", data=json.dumps(body).encode())
    req.add_header("Authorization", f"token {token}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ferrohub-hub", required=True)
    p.add_argument("--ferrohub-proxy", required=True)
    p.add_argument("--venv", default="/opt/ferrohub/venv")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--load-cpu", type=int, default=0)
    p.add_argument("--proxy-cpu", type=int, default=1)
    p.add_argument("--output")
    args = p.parse_args()
    args.log_level = "warn"
    bench.TITLES.setdefault("ferrohub", "ferrohub-proxy")
    machine = machine_facts()  # before pinning this process (nproc would say 1)
    os.sched_setaffinity(0, {args.load_cpu})

    work = tempfile.mkdtemp(prefix="kernel-ws-")
    os.chmod(work, 0o755)
    hub = bench.NotebookHub(args, work)
    proxy = None
    started = time.time()
    try:
        nb_port, nb_pid, token = hub.spawn()
        proxy = bench.start_proxy("ferrohub", args.ferrohub_proxy, args, work)
        bench.add_route(proxy, f"/user/{bench.NOTEBOOK_USER}", f"http://127.0.0.1:{nb_port}")
        prefix = f"/user/{bench.NOTEBOOK_USER}"
        kernel = post(f"http://127.0.0.1:{nb_port}{prefix}/api/kernels", token, {"name": "python3"})
        channels = f"{prefix}/api/kernels/{kernel['id']}/channels"
        ways = {
            "direct": f"ws://127.0.0.1:{nb_port}{channels}",
            "ferrohub-proxy": f"ws://127.0.0.1:{proxy.port}{channels}",
        }
        # Warm up: the kernel imports IPython.display, the first cell compiles.
        for url in ways.values():
            for _, code in CELLS:
                asyncio.run(run_cell(url, token, code))
        load_before = background_load(1.0)
        times = {(c, w): [] for c, _ in CELLS for w in ways}
        sizes, proxy_cpu = {}, {c: [] for c, _ in CELLS}
        for rnd in range(args.rounds):
            for cell, code in CELLS:
                for way, url in ways.items():
                    wait_quiet(0.3, 30)
                    cpu0 = proc_cpu_seconds(proxy.pid)
                    seconds, received = asyncio.run(run_cell(url, token, code))
                    if way == "ferrohub-proxy":
                        proxy_cpu[cell].append(proc_cpu_seconds(proxy.pid) - cpu0)
                    times[(cell, way)].append(seconds)
                    sizes[cell] = received
                    bench.log(f"round {rnd + 1}: {cell}: {way} {seconds * 1000:.0f} ms")
        load_after = background_load(1.0)
    finally:
        if proxy is not None:
            proxy.process.stop()
        hub.stop()

    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}, {args.rounds} rounds, "
        f"direct and through ferrohub-proxy in alternation.",
        "",
        f"- Machine: {machine}. Other work used {load_before:.2f} cores just before "
        f"and {load_after:.2f} just after.",
        f"- Hub, real jupyterhub-singleuser with its ipykernel, and the client (Python "
        f"`websockets`) on CPU {args.load_cpu}; ferrohub-proxy on CPU {args.proxy_cpu}.",
        "- Time from sending the cell to the kernel's `idle` status, read on the kernel's "
        "websocket; median (min–max); speed ratio = direct time / proxied time.",
        "",
        "| cell | websocket bytes | direct | ferrohub-proxy | speed vs direct | proxy CPU |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for cell, _ in CELLS:
        d = times[(cell, "direct")]
        f = times[(cell, "ferrohub-proxy")]
        ratio = statistics.median(d) / statistics.median(f)
        lines.append(
            f"| {cell} | {sizes[cell] / 1e6:.1f} MB | {statistics.median(d) * 1000:.0f} ms "
            f"({min(d) * 1000:.0f}–{max(d) * 1000:.0f}) | {statistics.median(f) * 1000:.0f} ms "
            f"({min(f) * 1000:.0f}–{max(f) * 1000:.0f}) | {ratio:.2f}× | "
            f"{statistics.median(proxy_cpu[cell]) * 1000:.0f} ms |")
    text = "\n".join(lines)
    print(text)
    if args.output:
        with open(args.output, "w") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
