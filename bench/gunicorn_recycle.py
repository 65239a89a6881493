"""Connection resets when gunicorn recycles its workers (``max_requests``), with
deploy/gunicorn.conf.py's gthread workers, against the same run with recycling off.

Run: ``python bench/gunicorn_recycle.py [--requests 20000] [--clients 8] [--max-requests 200]``.

Starts gunicorn twice on a free port of 127.0.0.1 with deploy/gunicorn.conf.py (2 processes x
4 threads) serving a one-line WSGI app (so the figure is gunicorn's, not Presence's), once with
``GUNICORN_MAX_REQUESTS`` set and once with 0 (the shipped default). ``--clients`` threads each
hold a keep-alive connection and send their share of ``--requests`` GETs; a request that fails
(reset, closed without an answer) is counted, and the client reconnects and goes on. Prints
requests, failures, failure rate and requests per second for both runs.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP = "bench.gunicorn_recycle:hello"


def hello(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
    body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(max_requests: int, requests: int, clients: int) -> tuple[int, int, float]:
    port = free_port()
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "4",
        "GUNICORN_MAX_REQUESTS": str(max_requests),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            APP,
            "-c",
            "deploy/gunicorn.conf.py",
            "--access-logfile",
            "/dev/null",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        failures = [0] * clients
        share = requests // clients

        def client(i: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            for _ in range(share):
                try:
                    conn.request("GET", "/")
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status != 200:
                        failures[i] += 1
                except (OSError, http.client.HTTPException):
                    failures[i] += 1
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        return share * clients, sum(failures), elapsed
    finally:
        server.terminate()
        server.wait(timeout=40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=200)
    args = parser.parse_args()
    print(f"{'max_requests':>12} {'requests':>9} {'failed':>7} {'rate':>8} {'req/s':>8}")
    for max_requests in (args.max_requests, 0):
        done, failed, elapsed = run(max_requests, args.requests, args.clients)
        print(
            f"{max_requests:>12} {done:>9} {failed:>7} {failed / done:>8.3%} {done / elapsed:>8.0f}"
        )


if __name__ == "__main__":
    main()
