"""Fault (c), issue 11: 10,000 pings through a flaky proxy are stored exactly once.

A local proxy sits in front of a live server. It answers 5% of requests 503 itself, without
forwarding them, and drops 20% of the responses after the server has answered (so after it has
committed): it closes the connection and the phone never learns that its batch was stored. The
client behaves like the phone's outbox: it resends the same batch, with the same client UUIDs,
until it gets an answer. Exactly 10,000 rows must be stored: none lost, none doubled.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import socketserver
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from backend.patrols.models import PatrolSession, Ping
from tests.factories import UserFactory

PINGS = 10_000
BATCH = 100
DROP_SHARE = 0.20
REFUSE_SHARE = 0.05
SEED = 20261201
MAX_ATTEMPTS = 50  # per batch; (0.25)^50 of ever getting here


@dataclass
class Tally:
    requests: int = 0
    refused_503: int = 0
    dropped_after_commit: int = 0
    forwarded: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def read_request(conn: socket.socket) -> bytes:
    """One whole HTTP/1.1 request (headers and a ``Content-Length`` body) from ``conn``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def flaky_proxy(upstream: tuple[str, int], rng: random.Random, tally: Tally) -> Any:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            request = read_request(self.request)
            if not request:
                return
            with tally.lock:
                tally.requests += 1
                draw = rng.random()
            if draw < REFUSE_SHARE:
                with tally.lock:
                    tally.refused_503 += 1
                self.request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\n\r\n"
                )
                return
            with socket.create_connection(upstream, timeout=60) as server:
                server.sendall(request)
                response = b""
                while chunk := server.recv(65536):
                    response += chunk
            if draw < REFUSE_SHARE + DROP_SHARE:
                with tally.lock:
                    tally.dropped_after_commit += 1
                return  # the server has answered (and committed); the phone hears nothing
            with tally.lock:
                tally.forwarded += 1
            self.request.sendall(response)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ten_thousand_pings_through_a_flaky_proxy_are_stored_exactly_once(
    live_server: Any,
) -> None:
    officer = UserFactory(role="officer")
    token = Token.objects.create(user=officer)
    start = timezone.now() - timedelta(seconds=PINGS + 600)
    PatrolSession.objects.create(officer=officer, client_uuid=uuid.uuid4(), started_at=start)
    pings = [
        {
            "client_uuid": str(uuid.uuid4()),
            "recorded_at": (start + timedelta(seconds=60 + k)).isoformat(),
            "lat": 25.80 + (k % 100) * 1e-5,
            "lon": -80.21,
            "accuracy_m": 8.0,
        }
        for k in range(PINGS)
    ]

    tally = Tally()
    upstream = urlsplit(live_server.url)
    proxy = flaky_proxy((upstream.hostname or "", upstream.port or 80), random.Random(SEED), tally)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    port = proxy.server_address[1]
    retries = 0
    statuses: dict[str, int] = {}
    try:
        for first in range(0, PINGS, BATCH):
            body = json.dumps(pings[first : first + BATCH])  # the same bytes on every retry
            for _attempt in range(MAX_ATTEMPTS):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                try:
                    connection.request(
                        "POST",
                        "/api/v1/pings/batch",
                        body=body,
                        headers={
                            "Authorization": f"Token {token.key}",
                            "Content-Type": "application/json",
                            "Connection": "close",
                        },
                    )
                    response = connection.getresponse()
                    answer = response.read()
                except (http.client.HTTPException, ConnectionError):
                    retries += 1  # no answer: the outbox keeps the batch and sends it again
                    continue
                finally:
                    connection.close()
                if response.status >= 500:
                    retries += 1
                    continue
                assert response.status == 200, answer
                for item in json.loads(answer)["items"]:
                    statuses[item["status"]] = statuses.get(item["status"], 0) + 1
                break
            else:
                pytest.fail(f"batch at {first} got no answer in {MAX_ATTEMPTS} attempts")
    finally:
        proxy.shutdown()
        proxy.server_close()

    stored = Ping.objects.filter(officer=officer)
    rows = stored.count()
    distinct = stored.values("client_uuid").distinct().count()
    sent = {uuid.UUID(p["client_uuid"]) for p in pings}
    print(
        f"\nfault (c) flaky proxy (seed {SEED}): {PINGS // BATCH} batches of {BATCH}, "
        f"{tally.requests} requests, {tally.dropped_after_commit} responses dropped after "
        f"commit, {tally.refused_503} answered 503, {retries} retries; rows stored {rows}, "
        f"distinct {distinct}, lost {len(sent - set(stored.values_list('client_uuid', flat=True)))}"
        f"; final answers {statuses}"
    )
    assert tally.dropped_after_commit > 0 and tally.refused_503 > 0
    assert rows == PINGS and distinct == PINGS
    assert set(stored.values_list("client_uuid", flat=True)) == sent
    # A batch whose answer was dropped is answered "duplicate" on its resend: stored once.
    assert statuses.get("rejected", 0) == 0
    assert statuses["accepted"] + statuses.get("duplicate", 0) == PINGS
