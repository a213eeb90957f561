"""Websocket load as a Jupyter user's tools make it: the Python `websockets`
package (17.x) as echo server and as client. Used by ws_python.py; runs in
the bench virtualenv.

    pyws.py serve --port P
    pyws.py run --url ws://127.0.0.1:P/x --mode pingpong|stream --size N
                --connections C --duration S --warmup W

`run` prints one JSON line: messages echoed back per second over the
measured window (after the warm-up), and the count.

Compression is off on both sides (permessage-deflate would measure zlib,
not the relay; Jupyter's kernel websockets do not compress by default).
"""

import argparse
import asyncio
import json
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass  # the client drops its connections at the end of a stream run


async def run_server(port):
    async with serve(echo, "127.0.0.1", port, compression=None, max_size=None) as server:
        await server.serve_forever()


class Window:
    """Counts messages seen between `start` and `end` (monotonic seconds)."""

    def __init__(self, start, end):
        self.start, self.end, self.count = start, end, 0

    def seen(self):
        now = time.monotonic()
        if self.start <= now < self.end:
            self.count += 1
        return now < self.end


async def pingpong(url, payload, window):
    async with connect(url, compression=None, max_size=None) as ws:
        while True:
            await ws.send(payload)
            await ws.recv()
            if not window.seen():
                return


async def stream(url, payload, window):
    """Sends without waiting for each echo (the connection's buffers and
    TCP apply back-pressure) while a reader counts the echoes. The reader
    keeps reading after the window (a sender blocked on a full connection
    needs it); at the end the connection is dropped, not closed (a close
    would wait for every echo still in flight)."""
    async with connect(url, compression=None, max_size=None) as ws:
        done = asyncio.Event()

        async def reader():
            try:
                async for _ in ws:
                    if not window.seen():
                        done.set()
            except ConnectionClosed:
                pass

        task = asyncio.create_task(reader())
        sent = 0
        while not done.is_set():
            await ws.send(payload)
            sent += 1
            if sent % 16 == 0:
                await asyncio.sleep(0)  # let the reader run
        ws.transport.abort()
        await task


async def run_client(args):
    payload = b"x" * args.size
    start = time.monotonic() + args.warmup
    window = Window(start, start + args.duration)
    one = pingpong if args.mode == "pingpong" else stream
    await asyncio.gather(*(one(args.url, payload, window) for _ in range(args.connections)))
    print(json.dumps({"messages_per_s": window.count / args.duration, "messages": window.count}))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    r = sub.add_parser("run")
    r.add_argument("--url", required=True)
    r.add_argument("--mode", choices=["pingpong", "stream"], required=True)
    r.add_argument("--size", type=int, default=100)
    r.add_argument("--connections", type=int, default=1)
    r.add_argument("--duration", type=float, default=5.0)
    r.add_argument("--warmup", type=float, default=1.0)
    args = p.parse_args()
    if args.command == "serve":
        asyncio.run(run_server(args.port))
    else:
        asyncio.run(run_client(args))


if __name__ == "__main__":
    main()
