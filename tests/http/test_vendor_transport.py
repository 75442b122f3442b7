"""The vendor client (``HttpxVendor.default()``) against raw socket servers that answer exactly the
bytes a test scripts: keep-alive, no redirects, answers that are not HTTP or too large, a header that
would split the request, timeouts, TLS verification, and a forward proxy from the environment. Every
server listens on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rightly.http.vendor import HttpxVendor, VendorError, VendorRequest, VendorTimeout, VendorUnreachable

PASSCODE = "transport-s3cret-passcode"
EMAIL = "ann+tag@example.com"
HEADERS = {"X-CleverTap-Account-Id": "P-1", "X-CleverTap-Passcode": PASSCODE}
VENDOR_HOST = "vendor.rightly.invalid"  # resolved only by the test's proxy (to 127.0.0.1)
OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"status":"ok"}'
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without proxy variables; those that need one set it."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


class Handlers:
    """A test server's connection handlers, to end them all when the server stops (asyncio's
    ``Server.close`` leaves accepted connections open until the loop is torn down)."""

    def __init__(self) -> None:
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    def track(self, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        if (task := asyncio.current_task()) is not None:
            self.tasks.add(task)

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()  # a handler waiting to read sees the end; one writing sees is_closing()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=2)


@dataclass
class Seen:
    """What a server received: one entry per request, and how many connections carried them."""

    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    connections: int = 0


Reply = Callable[[int, asyncio.StreamWriter], Awaitable[bool]]  # (request number) -> keep the connection?


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    line, *rest = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (h.split(": ", 1) for h in rest if h)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return line, headers, body


@asynccontextmanager
async def raw_server(
    reply: Reply, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, Seen]]:
    """Yields the server's root URL, ``http(s)://127.0.0.1:<port>``."""
    seen = Seen()
    handlers = Handlers()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.track(writer)
        seen.connections += 1
        try:
            while (request := await _read_request(reader)) is not None:
                seen.requests.append(request)
                if not await reply(len(seen.requests), writer):
                    break
                await writer.drain()
        except ConnectionError:
            pass  # the client went away mid-answer (refused it, or timed out)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}", seen
    finally:
        server.close()
        await handlers.close()
        await server.wait_closed()


def answer(data: bytes, keep: bool = True) -> Reply:
    async def reply(_: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(data)
        return keep

    return reply


def lookup(root: str) -> VendorRequest:
    return VendorRequest.get(f"{root}/us1/1/profile.json", {"email": EMAIL}, HEADERS)


@asynccontextmanager
async def vendor(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[HttpxVendor]:
    client = HttpxVendor.default(ssl_context=ssl_context)
    try:
        yield client
    finally:
        await client.aclose()


def shown(exc: BaseException) -> str:
    """Everything an error could show: its message, its repr and what the error table reads."""
    return f"{exc} {exc!r} {getattr(exc, 'what', '')}"


# -- plain HTTP ------------------------------------------------------------------------------------


async def test_calls_reuse_one_kept_alive_connection_and_send_what_clevertap_expects() -> None:
    async with vendor() as client, raw_server(answer(OK)) as (root, seen):
        first = await client.send(lookup(root), 5)
        second = await client.send(
            VendorRequest.post_json(f"{root}/us1/1/delete/profiles.json", {"identity": ["u-1"]}, HEADERS), 5
        )
    assert first.status_code == second.status_code == 200 and first.json() == {"status": "ok"}
    assert first.headers["content-type"] == "application/json"
    assert seen.connections == 1
    (line1, headers1, _), (line2, headers2, body2) = seen.requests
    assert line1 == "GET /us1/1/profile.json?email=ann%2Btag%40example.com HTTP/1.1"
    assert headers1["host"] == root.removeprefix("http://")
    assert headers1["x-clevertap-passcode"] == PASSCODE and headers1["accept-encoding"] == "identity"
    assert line2 == "POST /us1/1/delete/profiles.json HTTP/1.1"
    assert body2 == b'{"identity":["u-1"]}' and headers2["content-length"] == str(len(body2))
    assert headers2["content-type"].startswith("application/json")


async def test_a_redirect_is_an_answer_not_followed() -> None:
    moved = b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
    async with vendor() as client, raw_server(answer(moved)) as (root, seen):
        got = await client.send(lookup(root), 5)
    assert got.status_code == 302 and got.headers["location"] == "/elsewhere"
    assert len(seen.requests) == 1


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async with vendor() as client, raw_server(answer(OK, keep=False)) as (root, seen):
        assert (await client.send(lookup(root), 5)).status_code == 200
        await asyncio.sleep(0.05)  # idle: the server's close arrives before the next call
        assert (await client.send(lookup(root), 5)).status_code == 200
    assert seen.connections == 2 and len(seen.requests) == 2


@pytest.mark.parametrize(
    "wire, what",
    [
        (b"", "the connection closed before an answer"),
        (b"hello, this is not HTTP\r\n\r\n", "not an HTTP answer"),
        (
            b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"cut":',
            "the connection closed before the whole answer arrived",
        ),
        # h11 parses at most 100 KiB of headers still incomplete after a read (reads are 64 KiB).
        (b"HTTP/1.1 200 OK\r\nX-Filler: " + b"y" * 300_000 + b"\r\n\r\n", "answer headers too large"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 40000000\r\n\r\n{", "answer larger than 32 MiB"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!",
            "an answer that could not be decoded",
        ),
    ],
    ids=["dropped", "not-http", "cut-short", "endless-headers", "declared-too-large", "not-gzip"],
)
async def test_a_nonsense_answer_is_unreachable_in_words_naming_only_the_host(wire: bytes, what: str) -> None:
    async with vendor() as client, raw_server(answer(wire, keep=False)) as (root, _):
        with pytest.raises(VendorUnreachable) as caught:
            await client.send(lookup(root), 5)
    assert caught.value.what == what and caught.value.host == "127.0.0.1"
    assert PASSCODE not in shown(caught.value) and "y" * 100 not in shown(caught.value)


async def test_an_endless_body_is_refused_once_past_32_mib() -> None:
    async def garbage(_: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"g" * 0x10000 + b"\r\n"  # 64 KiB chunks, for ever
        while not writer.is_closing():
            writer.write(chunk)
            await writer.drain()  # ConnectionError once the client hangs up
        return False

    async with vendor() as client, raw_server(garbage) as (root, _):
        with pytest.raises(VendorUnreachable, match="answer larger than 32 MiB"):
            await client.send(lookup(root), 10)


async def test_a_header_that_would_split_the_request_is_never_sent() -> None:
    async with vendor() as client, raw_server(answer(OK)) as (root, seen):
        bad = VendorRequest.get(
            f"{root}/us1/1/profile.json", {"identity": "u"}, {"X-CleverTap-Passcode": "a\r\nX: b"}
        )
        with pytest.raises(ValueError, match="X-CleverTap-Passcode header holds a line break") as caught:
            await client.send(bad, 5)
    assert seen.connections == 0 and "a\r\nX: b" not in shown(caught.value)


async def test_a_vendor_that_accepts_and_never_answers_times_out() -> None:
    async def never(_: int, writer: asyncio.StreamWriter) -> bool:
        while not writer.is_closing():
            await asyncio.sleep(0.01)
        return False

    async with vendor() as client, raw_server(never) as (root, _):
        started = asyncio.get_running_loop().time()
        with pytest.raises(VendorTimeout) as caught:
            await client.send(lookup(root), 0.2)
        waited = asyncio.get_running_loop().time() - started
    assert waited < 1.0
    assert str(caught.value) == "no answer within 0.2 s (127.0.0.1)"


async def test_an_answer_that_trickles_in_times_out_as_a_whole() -> None:
    async def trickle(_: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):  # each byte well within a read timeout; all of them far beyond it
            if writer.is_closing():
                break
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.05)
        return False

    async with vendor() as client, raw_server(trickle) as (root, _):
        started = asyncio.get_running_loop().time()
        with pytest.raises(VendorTimeout) as caught:
            await client.send(lookup(root), 0.3)
        waited = asyncio.get_running_loop().time() - started
    assert waited < 1.0 and caught.value.what == "no answer within 0.3 s"


async def test_connection_failures_are_said_in_words() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again once the block ends
    async with vendor() as client:
        with pytest.raises(VendorUnreachable) as refused:
            await client.send(lookup(f"http://127.0.0.1:{port}"), 5)
        with pytest.raises(VendorUnreachable) as unknown:
            await client.send(lookup(f"https://{VENDOR_HOST}"), 5)
    assert str(refused.value) == "connection refused (127.0.0.1)"
    assert str(unknown.value) == f"host name not found ({VENDOR_HOST})"


# -- TLS -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    trusting: ssl.SSLContext  # a client context that trusts the self-signed certificate


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A self-signed certificate for 127.0.0.1, localhost and VENDOR_HOST."""
    tmp = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.DNSName(VENDOR_HOST)]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([*names, x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return Tls(server, ssl.create_default_context(cafile=str(cert_file)))


async def test_https_is_verified_and_a_self_signed_certificate_refused_unless_trusted(tls: Tls) -> None:
    async with (
        raw_server(answer(OK), ssl_context=tls.server) as (root, seen),
        vendor(ssl_context=tls.trusting) as trusting,
        vendor() as default,  # certifi's CAs
    ):
        got = await trusting.send(lookup(root), 5)
        with pytest.raises(VendorUnreachable) as caught:
            await default.send(lookup(root), 5)
    assert got.json() == {"status": "ok"} and len(seen.requests) == 1
    assert str(caught.value) == "its TLS certificate is not trusted (127.0.0.1)"


# -- a forward proxy from the environment ----------------------------------------------------------


@asynccontextmanager
async def forward_proxy(refuse: bool = False) -> AsyncIterator[tuple[str, list[bytes]]]:
    """An HTTP proxy on 127.0.0.1: CONNECT tunnels for HTTPS, absolute-form requests forwarded for
    HTTP. It resolves VENDOR_HOST (a name nothing else resolves) and localhost to 127.0.0.1, and
    records the head of every request it gets."""
    heads: list[bytes] = []
    handlers = Handlers()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.track(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        heads.append(head)
        method, target, _ = head.split(b"\r\n", 1)[0].split(b" ")
        authority = target.decode().removeprefix("http://").split("/", 1)[0]
        host, port = authority.rsplit(":", 1)
        if refuse or host not in (VENDOR_HOST, "localhost"):
            status = b"407 Proxy Authentication Required" if refuse else b"502 Bad Gateway"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", int(port))
        handlers.writers.add(up_writer)
        if method == b"CONNECT":
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            up_writer.write(head)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}", heads
    finally:
        server.close()
        await handlers.close()
        await server.wait_closed()


async def test_https_goes_through_the_environments_proxy_in_one_kept_alive_tunnel(
    tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        forward_proxy() as (proxy, heads),
        raw_server(answer(OK), ssl_context=tls.server) as (root, seen),
    ):
        monkeypatch.setenv("HTTPS_PROXY", f"http://ops:pa%40ss@{proxy}")
        vendor_root = root.replace("127.0.0.1", VENDOR_HOST)
        async with vendor(ssl_context=tls.trusting) as client:
            first = await client.send(lookup(vendor_root), 5)
            second = await client.send(lookup(vendor_root), 5)
    assert first.json() == second.json() == {"status": "ok"}
    assert len(heads) == 1  # one tunnel, kept alive for both calls
    authority = vendor_root.removeprefix("https://")
    assert heads[0].startswith(f"CONNECT {authority} HTTP/1.1\r\n".encode())
    assert b"Proxy-Authorization: Basic b3BzOnBhQHNz\r\n" in heads[0]  # ops:pa@ss
    assert PASSCODE.encode() not in heads[0]  # the proxy sees the host name, not the call
    # The origin got an ordinary request: the proxy's credentials and the passcode stay apart.
    (line, headers, _), _ = seen.requests
    assert line.startswith("GET /us1/1/profile.json?") and "proxy-authorization" not in headers


async def test_plain_http_is_sent_to_the_proxy_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    async with forward_proxy() as (proxy, heads), raw_server(answer(OK)) as (root, seen):
        monkeypatch.setenv("HTTP_PROXY", f"http://{proxy}")
        vendor_root = root.replace("127.0.0.1", VENDOR_HOST)
        async with vendor() as client:
            got = await client.send(lookup(vendor_root), 5)
    assert got.json() == {"status": "ok"}
    assert heads[0].startswith(f"GET {vendor_root}/us1/1/profile.json?email=".encode())
    assert seen.requests[0][0].startswith(f"GET {vendor_root}/us1/1/profile.json?")


async def test_a_proxy_that_refuses_is_said_without_its_credentials(
    tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        forward_proxy(refuse=True) as (proxy, _),
        raw_server(answer(OK), ssl_context=tls.server) as (root, seen),
    ):
        monkeypatch.setenv("HTTPS_PROXY", f"http://ops:hunter2@{proxy}")
        async with vendor(ssl_context=tls.trusting) as client:
            with pytest.raises(VendorUnreachable) as caught:
                await client.send(lookup(root.replace("127.0.0.1", VENDOR_HOST)), 5)
            assert "hunter2" not in repr(client) and "hunter2" not in repr(client.client)
    assert str(caught.value) == f"the proxy refused the tunnel (HTTP 407) ({VENDOR_HOST})"
    assert "hunter2" not in shown(caught.value) and "Authentication" not in shown(caught.value)
    assert seen.requests == []


@pytest.mark.parametrize(
    "no_proxy, host, proxied",
    [
        ("", VENDOR_HOST, True),
        ("x.internal", VENDOR_HOST, True),
        (f"x.internal, {VENDOR_HOST}", VENDOR_HOST, False),
        ("rightly.invalid", VENDOR_HOST, False),  # a domain covers its subdomains...
        (".rightly.invalid", VENDOR_HOST, False),
        ("notrightly.invalid", VENDOR_HOST, True),  # ...and only those
        ("*", VENDOR_HOST, False),
        ("", "localhost", True),  # httpx proxies this machine too, unless NO_PROXY names it
        ("localhost", "localhost", False),
    ],
)
async def test_no_proxy_is_read_as_httpx_reads_it(
    tls: Tls, monkeypatch: pytest.MonkeyPatch, no_proxy: str, host: str, proxied: bool
) -> None:
    async with forward_proxy() as (proxy, heads), raw_server(answer(OK), ssl_context=tls.server) as (root, _):
        monkeypatch.setenv("HTTPS_PROXY", f"http://{proxy}")
        monkeypatch.setenv("NO_PROXY", no_proxy)
        async with vendor(ssl_context=tls.trusting) as client:
            if host == VENDOR_HOST and not proxied:  # reached directly, so the name does not resolve
                with pytest.raises(VendorUnreachable, match="host name not found"):
                    await client.send(lookup(root.replace("127.0.0.1", host)), 5)
            else:
                assert (await client.send(lookup(root.replace("127.0.0.1", host)), 5)).status_code == 200
    assert len(heads) == (1 if proxied else 0)


# -- what is shown ---------------------------------------------------------------------------------


async def test_the_passcode_and_the_subject_never_reach_an_error_a_repr_or_the_log(
    tls: Tls, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[VendorError] = []
    async with vendor() as client:
        async with raw_server(answer(OK)) as (root, _):
            assert (await client.send(lookup(root), 5)).status_code == 200
        # A server that closes, and one that echoes the passcode in a broken status line.
        for wire in (b"", b"HTTP/1.1 2OO " + PASSCODE.encode() + b"\r\n\r\n"):
            async with raw_server(answer(wire, keep=False)) as (root, _):
                with pytest.raises(VendorUnreachable) as caught:
                    await client.send(lookup(root), 5)
                errors.append(caught.value)
        async with raw_server(answer(OK), ssl_context=tls.server) as (root, _):
            with pytest.raises(VendorUnreachable) as caught:
                await client.send(lookup(root), 5)
            errors.append(caught.value)
        assert PASSCODE not in repr(client) and PASSCODE not in repr(lookup(root))
    assert len(errors) == 3
    for error in errors:
        assert PASSCODE not in shown(error) and "ann+tag" not in shown(error)
        assert error.__cause__ is None and error.__suppress_context__  # nothing chained to show either
    assert PASSCODE not in caplog.text and "ann%2Btag" not in caplog.text and EMAIL not in caplog.text


def test_the_cases_that_lean_on_the_transport_hold_on_uvloop_too(
    tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tests above run on asyncio's loop; ``rightly`` runs on uvloop, whose transports (TLS,
    TLS inside a proxy's tunnel, a peer closing) are its own. The same cases, on uvloop."""
    uvloop = pytest.importorskip("uvloop")

    async def cases() -> None:
        assert "uvloop" in type(asyncio.get_running_loop()).__module__
        await test_https_is_verified_and_a_self_signed_certificate_refused_unless_trusted(tls)
        await test_https_goes_through_the_environments_proxy_in_one_kept_alive_tunnel(tls, monkeypatch)
        await test_a_connection_the_server_closed_while_idle_is_not_reused()
        await test_a_vendor_that_accepts_and_never_answers_times_out()
        await test_an_endless_body_is_refused_once_past_32_mib()

    uvloop.run(cases())
