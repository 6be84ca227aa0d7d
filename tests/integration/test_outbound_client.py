"""The outbound guard against a real local server: redirects, size limits and timeouts.

The server listens on a free loopback port that only the allow-list opens (host:port). Every
redirect to an inside address must be refused before any connection is made to it: no test
here sends a packet anywhere but 127.0.0.1. Only socket.getaddrinfo is ever replaced, to make
a name resolve to a chosen address.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from adapters.outbound import OutboundClient
from domain.failures import PermanentFailure, TransientFailure
from domain.outbound import AllowList


@dataclass
class Route:
    status: int = 200
    body: bytes = b'{"status": "done"}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds between the headers and the body


@dataclass
class Server:
    """A scripted HTTP server on a free loopback port; records every request path."""

    routes: dict[str, Route] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self) -> Iterator[Server]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                server.paths.append(self.path)
                route = server.routes.get(self.path, Route(404, b'{"error": "no route"}'))
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value.replace("{port}", str(server.port)))
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.flush()
                time.sleep(route.delay)
                # The client may stop reading: that is what a limit does.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(route.body)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args: Any) -> None:
                """Quiet: tests read `paths`."""

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[Server]:
    yield from Server().serve()


@pytest.fixture
def other_server() -> Iterator[Server]:
    yield from Server().serve()


def client(*servers: Server, **options: Any) -> OutboundClient:
    allowed = AllowList.parse([f"127.0.0.1:{s.port}" for s in servers])
    return OutboundClient(allowed, **options)


def redirect(location: str, status: int = 302) -> Route:
    return Route(status, b"", {"Location": location})


def test_a_get_reads_the_answer(server: Server) -> None:
    server.routes["/s"] = Route(200, b'{"status": "done"}', {"Content-Type": "application/json"})
    response = client(server).request("GET", server.url("/s"))
    assert (response.status, response.body, response.truncated) == (
        200,
        b'{"status": "done"}',
        False,
    )
    assert response.headers["content-type"] == "application/json"
    assert response.where == f"http://127.0.0.1:{server.port}"


def test_redirects_are_followed_only_when_allowed_and_each_hop_is_pinned_again(
    server: Server, other_server: Server
) -> None:
    server.routes["/a"] = redirect("/b", 301)
    server.routes["/b"] = redirect(other_server.url("/c"), 307)
    other_server.routes["/c"] = Route(200, b"{}")
    response = client(server, other_server).request("GET", server.url("/a"), max_redirects=2)
    assert (response.status, response.redirects) == (200, 2)
    assert server.paths == ["/a", "/b"] and other_server.paths == ["/c"]

    # Without permission the 3xx is the answer, and nothing else is requested.
    unfollowed = client(server, other_server).request("GET", server.url("/a"))
    assert unfollowed.status == 301 and server.paths[-1] == "/a"
    # A POST is never redirected (webhooks): the 3xx comes back as it is.
    posted = client(server).request("POST", server.url("/a"), body=b"{}", max_redirects=3)
    assert posted.status == 301


def test_too_many_redirects_is_permanent(server: Server) -> None:
    server.routes["/loop"] = redirect("/loop")
    with pytest.raises(PermanentFailure, match="more than 3 redirects"):
        client(server).request("GET", server.url("/loop"), max_redirects=3)
    assert server.paths == ["/loop"] * 4


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        ("http://10.0.0.1/x", "scheme must be https"),
        ("https://10.0.0.1/x", "the host is refused: private address"),
        ("https://169.254.169.254/latest/meta-data/", "cloud instance metadata"),
        ("https://[::ffff:169.254.169.254]/", "IPv4-mapped form of 169.254.169.254"),
        ("https://[::ffff:7f00:1]:{port}/", "IPv4-mapped form of 127.0.0.1"),
        ("https://2130706433/", "numeric address in a non-standard form"),
        ("https://0177.0.0.1/", "numeric address in a non-standard form"),
        ("https://0x7f.1/", "numeric address in a non-standard form"),
        ("http://127.0.0.1:1/", "loopback address"),  # not the allow-listed port
        ("http://localhost:{port}/", "scheme must be https"),  # another name, not allow-listed
        ("file:///etc/passwd", "scheme must be https"),
    ],
)
def test_a_redirect_to_an_inside_address_is_refused_before_connecting(
    server: Server, location: str, problem: str
) -> None:
    server.routes["/r"] = redirect(location)
    with pytest.raises(PermanentFailure) as caught:
        client(server).request("GET", server.url("/r"), what="status URL", max_redirects=3)
    assert "answered 302, refused: invalid redirect from the status URL: " in caught.value.reason
    assert problem in caught.value.reason
    assert server.paths == ["/r"]


def test_a_redirect_to_a_name_resolving_inside_is_refused(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo
    looked_up: list[str] = []

    def resolver(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "status.internal.example":
            looked_up.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.30.40", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    server.routes["/r"] = redirect("https://status.internal.example/op")
    with pytest.raises(PermanentFailure) as caught:
        client(server).request("GET", server.url("/r"), max_redirects=3)
    assert "status.internal.example resolves to 10.20.30.40, which is refused" in (
        caught.value.reason
    )
    assert looked_up == ["status.internal.example"]


def test_an_answer_over_the_limit_is_refused_when_strict(server: Server) -> None:
    server.routes["/big"] = Route(200, b"x" * 5000)
    with pytest.raises(PermanentFailure, match="larger than 4096 bytes"):
        client(server, max_response_bytes=4096).request("GET", server.url("/big"), strict_body=True)
    lenient = client(server, max_response_bytes=100).request("GET", server.url("/big"))
    assert (len(lenient.body), lenient.truncated) == (100, True)


def test_slow_answers_time_out_as_transient(server: Server) -> None:
    server.routes["/slow-body"] = Route(200, b"{}", delay=1.5)
    started = time.monotonic()
    with pytest.raises(TransientFailure):
        client(server, read_timeout=0.3).request("GET", server.url("/slow-body"), strict_body=True)
    assert time.monotonic() - started < 1.4


def test_nothing_listening_is_transient(server: Server) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    allowed = OutboundClient(AllowList.parse([f"127.0.0.1:{port}"]))
    with pytest.raises(TransientFailure, match="could not connect"):
        allowed.request("GET", f"http://127.0.0.1:{port}/")
