"""Rightly's HTTP/1.1 client against a raw socket server that answers exactly the bytes a test
scripts: keep-alive and its limits, every body framing, a server that closes a kept-alive
connection, answers that are not HTTP or too large, a header that would split the request, TLS."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rightly.http.h1 import H1Vendor, _bypassed
from rightly.http.vendor import VendorRequest, VendorTimeout, VendorUnreachable

PASSCODE = "h1-s3cret-passcode"
HEADERS = {"X-CleverTap-Account-Id": "P-1", "X-CleverTap-Passcode": PASSCODE}
VENDOR_HOST = "vendor.rightly.invalid"  # reachable only through the test's proxy
OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"status":"ok"}'


@dataclass
class Seen:
    """What the server received: one entry per request, and how many connections carried them."""

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
    seen = Seen()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        try:
            while (request := await _read_request(reader)) is not None:
                seen.requests.append(request)
                if not await reply(len(seen.requests), writer):
                    break
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://localhost:{port}" if ssl_context else f"{scheme}://127.0.0.1:{port}", seen
    finally:
        server.close()
        await server.wait_closed()


def answer(data: bytes, keep: bool = True) -> Reply:
    async def reply(_: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(data)
        return keep

    return reply


def lookup(root: str, email: str = "ann+tag@example.com") -> VendorRequest:
    return VendorRequest.get(f"{root}/us1/1/profile.json", {"email": email}, HEADERS)


async def test_calls_reuse_one_kept_alive_connection_and_send_what_clevertap_expects() -> None:
    client = H1Vendor()
    async with raw_server(answer(OK)) as (root, seen):
        first = await client.send(lookup(root), 5)
        second = await client.send(
            VendorRequest.post_json(f"{root}/us1/1/delete/profiles.json", {"identity": ["u-1"]}, HEADERS), 5
        )
    await client.aclose()
    assert first.status_code == second.status_code == 200 and first.json() == {"status": "ok"}
    assert first.headers["content-type"] == "application/json"
    assert seen.connections == 1
    (line1, headers1, _), (line2, headers2, body2) = seen.requests
    assert line1 == "GET /us1/1/profile.json?email=ann%2Btag%40example.com HTTP/1.1"
    assert headers1["host"] == root.removeprefix("http://")
    assert headers1["x-clevertap-passcode"] == PASSCODE and "content-length" not in headers1
    assert line2 == "POST /us1/1/delete/profiles.json HTTP/1.1"
    assert body2 == b'{"identity":["u-1"]}' and headers2["content-length"] == str(len(body2))
    assert headers2["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "wire",
    [
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n4\r\n[1]}\r\n0\r\n\r\n',
        b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"a":[1]}',  # the body ends with the connection
        b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{"a":[1]}',
    ],
    ids=["chunked", "until-close", "after-100-continue"],
)
async def test_every_body_framing_gives_the_whole_body(wire: bytes) -> None:
    client = H1Vendor()
    async with raw_server(answer(wire, keep=b"close" not in wire)) as (root, _):
        got = await client.send(lookup(root), 5)
        again = await client.send(lookup(root), 5)  # the connection was reused or replaced correctly
    await client.aclose()
    assert got.status_code == 200 and got.json() == {"a": [1]} and again.json() == {"a": [1]}


async def test_a_no_content_answer_keeps_the_connection() -> None:
    client = H1Vendor()
    async with raw_server(answer(b"HTTP/1.1 204 No Content\r\n\r\n")) as (root, seen):
        first = await client.send(lookup(root), 5)
        second = await client.send(lookup(root), 5)
    await client.aclose()
    assert first.status_code == second.status_code == 204 and first.content == b""
    assert seen.connections == 1


async def test_bytes_after_an_answer_retire_the_connection() -> None:
    client = H1Vendor()
    async with raw_server(answer(OK + b"HTTP/1.1 200 OK\r\nContent-Len")) as (root, seen):
        first = await client.send(lookup(root), 5)
        second = await client.send(lookup(root), 5)
    await client.aclose()
    assert first.json() == second.json() == {"status": "ok"}
    assert seen.connections == 2  # the first connection was not trusted again


async def test_a_connection_the_server_dropped_while_idle_is_replaced_once() -> None:
    async def reply(n: int, writer: asyncio.StreamWriter) -> bool:
        if n == 2:
            return False  # the second request arrives on a connection the server no longer serves
        writer.write(OK)
        return True

    client = H1Vendor()
    async with raw_server(reply) as (root, seen):
        assert (await client.send(lookup(root), 5)).status_code == 200
        assert (await client.send(lookup(root), 5)).status_code == 200
    await client.aclose()
    assert seen.connections == 2 and len(seen.requests) == 3


async def test_a_fresh_connection_that_breaks_is_not_retried() -> None:
    client = H1Vendor()
    async with raw_server(answer(b"", keep=False)) as (root, seen):
        with pytest.raises(VendorUnreachable) as caught:
            await client.send(lookup(root), 5)
    await client.aclose()
    assert len(seen.requests) == 1
    assert "127.0.0.1" in str(caught.value) and PASSCODE not in str(caught.value)


async def test_an_idle_connection_past_its_age_is_not_reused() -> None:
    client = H1Vendor(idle_seconds=0.0)
    async with raw_server(answer(OK)) as (root, seen):
        await client.send(lookup(root), 5)
        await asyncio.sleep(0.01)
        await client.send(lookup(root), 5)
    await client.aclose()
    assert seen.connections == 2


@pytest.mark.parametrize(
    "wire, what",
    [
        (b"hello, this is not HTTP\r\n\r\n", "not an HTTP answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000, "answer larger than"),
        (b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"cut":', "connection closed"),
        (b"HTTP/1.1 200 OK\r\nX-Filler: " + b"y" * 70000 + b"\r\n\r\n", "answer headers larger than 64 KiB"),
    ],
    ids=["not-http", "too-large", "cut-short", "endless-headers"],
)
async def test_a_nonsense_answer_is_an_error_that_names_only_the_host(wire: bytes, what: str) -> None:
    client = H1Vendor(max_body=1000)
    async with raw_server(answer(wire, keep=False)) as (root, _):
        with pytest.raises(VendorUnreachable) as caught:
            await client.send(lookup(root), 5)
    await client.aclose()
    assert what in str(caught.value) and "127.0.0.1" in str(caught.value)
    assert PASSCODE not in str(caught.value)


async def test_a_header_that_never_ends_is_cut_off() -> None:
    async def endless(_: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nX-Filler: ")
        for _ in range(40):
            writer.write(b"z" * 4096)
            await writer.drain()
            await asyncio.sleep(0.005)  # arrives in pieces, none of which ends the header
        return False

    client = H1Vendor()
    async with raw_server(endless) as (root, _):
        with pytest.raises(VendorUnreachable, match="answer headers larger than 64 KiB"):
            await client.send(lookup(root), 5)
    await client.aclose()


async def test_a_header_that_would_split_the_request_is_never_sent() -> None:
    client = H1Vendor()
    async with raw_server(answer(OK)) as (root, seen):
        bad = VendorRequest.get(
            f"{root}/us1/1/profile.json", {"identity": "u"}, {"X-CleverTap-Passcode": "a\r\nX: b"}
        )
        with pytest.raises(ValueError, match="X-CleverTap-Passcode header holds a line break") as caught:
            await client.send(bad, 5)
    await client.aclose()
    assert seen.requests == [] and "a\r\nX: b" not in str(caught.value)


async def test_a_vendor_that_accepts_and_never_answers_times_out() -> None:
    async def never(_: int, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return False

    client = H1Vendor()
    async with raw_server(never) as (root, _):
        started = asyncio.get_running_loop().time()
        with pytest.raises(VendorTimeout):
            await client.send(lookup(root), 0.2)
        waited = asyncio.get_running_loop().time() - started
    await client.aclose()
    assert waited < 1.0


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.DNSName(VENDOR_HOST)]),
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
    return cert_file, key_file


async def test_https_is_verified_against_the_trusted_certificates(tmp_path: Path) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)
    trusting = H1Vendor(ssl_context=ssl.create_default_context(cafile=str(cert_file)))
    default = H1Vendor()  # the system's CAs: a self-signed certificate is refused
    async with raw_server(answer(OK), ssl_context=server_ctx) as (root, seen):
        got = await trusting.send(lookup(root), 5)
        with pytest.raises(VendorUnreachable) as caught:
            await default.send(lookup(root), 5)
    await trusting.aclose()
    await default.aclose()
    assert got.json() == {"status": "ok"} and len(seen.requests) == 1
    assert "localhost" in str(caught.value) and "SSL" in str(caught.value)


# -- a forward proxy ------------------------------------------------------------------------------


@asynccontextmanager
async def forward_proxy(refuse: bool = False) -> AsyncIterator[tuple[str, list[bytes]]]:
    """An HTTP proxy: CONNECT tunnels for HTTPS, absolute-form requests forwarded for HTTP; it
    resolves VENDOR_HOST (a name nothing else resolves) to this machine."""
    heads: list[bytes] = []

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
        head = await reader.readuntil(b"\r\n\r\n")
        heads.append(head)
        method, target, _ = head.split(b"\r\n", 1)[0].split(b" ")
        if refuse:
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        if method == b"CONNECT":
            host, port = target.decode().rsplit(":", 1)
        else:
            parts = target.decode().removeprefix("http://").split("/", 1)[0]
            host, port = parts.rsplit(":", 1)
        assert host == VENDOR_HOST  # the client left the name to the proxy
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", int(port))
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


def _tls_server(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert_file, key_file = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)
    return server_ctx, ssl.create_default_context(cafile=str(cert_file))


async def test_https_goes_through_the_environments_proxy_in_a_tunnel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_ctx, client_ctx = _tls_server(tmp_path)
    async with (
        forward_proxy() as (proxy, heads),
        raw_server(answer(OK), ssl_context=server_ctx) as (root, seen),
    ):
        monkeypatch.setenv("HTTPS_PROXY", f"http://ops:pa%40ss@{proxy}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        client = H1Vendor(ssl_context=client_ctx)
        vendor = root.replace("localhost", VENDOR_HOST)
        first = await client.send(lookup(vendor), 5)
        second = await client.send(lookup(vendor), 5)
        await client.aclose()
    assert first.json() == second.json() == {"status": "ok"}
    assert len(heads) == 1  # one tunnel, kept alive for both calls
    authority = vendor.removeprefix("https://")
    assert heads[0].startswith(f"CONNECT {authority} HTTP/1.1\r\n".encode())
    assert b"Proxy-Authorization: Basic b3BzOnBhQHNz\r\n" in heads[0]  # ops:pa@ss
    # The origin got an ordinary request (the proxy's credentials and the passcode stay apart).
    (line, headers, _), _ = seen.requests
    assert line.startswith("GET /us1/1/profile.json?") and "proxy-authorization" not in headers


async def test_plain_http_is_sent_to_the_proxy_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    async with forward_proxy() as (proxy, heads), raw_server(answer(OK)) as (root, seen):
        client = H1Vendor(proxies={"http": f"http://{proxy}"})
        vendor = root.replace("127.0.0.1", VENDOR_HOST)
        got = await client.send(lookup(vendor), 5)
        await client.aclose()
    assert got.json() == {"status": "ok"}
    assert heads[0].startswith(f"GET {vendor}/us1/1/profile.json?email=".encode())
    assert seen.requests[0][0].startswith(f"GET {vendor}/us1/1/profile.json?")


async def test_a_proxy_that_refuses_is_named_without_its_credentials(tmp_path: Path) -> None:
    server_ctx, client_ctx = _tls_server(tmp_path)
    async with (
        forward_proxy(refuse=True) as (proxy, _),
        raw_server(answer(OK), ssl_context=server_ctx) as (root, seen),
    ):
        client = H1Vendor(ssl_context=client_ctx, proxies={"https": f"http://ops:hunter2@{proxy}"})
        with pytest.raises(VendorUnreachable) as caught:
            await client.send(lookup(root.replace("localhost", VENDOR_HOST)), 5)
        await client.aclose()
    assert f"proxy {proxy} refused the tunnel (HTTP 407)" in str(caught.value)
    assert "hunter2" not in str(caught.value) and seen.requests == []


async def test_no_proxy_hosts_and_this_machine_are_reached_directly(tmp_path: Path) -> None:
    server_ctx, client_ctx = _tls_server(tmp_path)
    async with forward_proxy() as (proxy, heads), raw_server(answer(OK), ssl_context=server_ctx) as (root, _):
        direct = H1Vendor(
            ssl_context=client_ctx, proxies={"https": f"http://{proxy}", "no": f"x.internal,{VENDOR_HOST}"}
        )
        with pytest.raises(VendorUnreachable):  # not through the proxy, so the name does not resolve
            await direct.send(lookup(root.replace("localhost", VENDOR_HOST)), 5)
        local = H1Vendor(ssl_context=client_ctx, proxies={"https": f"http://{proxy}"})
        assert (await local.send(lookup(root), 5)).status_code == 200  # localhost: never proxied
        await direct.aclose()
        await local.aclose()
    assert heads == []


@pytest.mark.parametrize(
    "host, port, no_proxy, bypassed",
    [
        ("us1.api.clevertap.com", 443, "", False),
        ("us1.api.clevertap.com", 443, "*", True),
        ("us1.api.clevertap.com", 443, "clevertap.com", True),
        ("us1.api.clevertap.com", 443, ".clevertap.com", True),
        ("us1.api.clevertap.com", 443, "notclevertap.com", False),
        ("evilclevertap.com", 443, "clevertap.com", False),
        ("us1.api.clevertap.com", 443, "example.org, us1.api.clevertap.com:443", True),
        ("us1.api.clevertap.com", 443, "us1.api.clevertap.com:8443", False),
    ],
)
def test_no_proxy_matches_hosts_and_domains_as_curl_does(
    host: str, port: int, no_proxy: str, bypassed: bool
) -> None:
    assert _bypassed(host, port, no_proxy) is bypassed


async def test_an_unsupported_proxy_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    client = H1Vendor(proxies={"http": "socks5://127.0.0.1:9"})  # nothing listens on port 9
    assert "http_proxy ignored: only http:// forward proxies are supported" in caplog.text
    async with raw_server(answer(OK)) as (root, _):
        assert (await client.send(lookup(root), 5)).status_code == 200  # sent directly
    await client.aclose()


async def test_connection_failures_are_said_in_words() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again once the block ends
    client = H1Vendor(proxies={})
    with pytest.raises(VendorUnreachable, match="connection refused"):
        await client.send(lookup(f"http://127.0.0.1:{port}"), 5)
    with pytest.raises(VendorUnreachable, match=f"host name not found .*{VENDOR_HOST}"):
        await client.send(lookup(f"https://{VENDOR_HOST}"), 5)
    await client.aclose()


def test_the_transport_sensitive_cases_hold_on_uvloop_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tests above run on asyncio's loop; ``rightly`` runs on uvloop, whose transports (TLS,
    start_tls in a tunnel, a peer closing) are its own. The same cases, on uvloop."""
    uvloop = pytest.importorskip("uvloop")

    async def cases() -> None:
        assert "uvloop" in type(asyncio.get_running_loop()).__module__
        await test_https_is_verified_against_the_trusted_certificates(tmp_path / "direct")
        await test_https_goes_through_the_environments_proxy_in_a_tunnel(tmp_path / "tunnel", monkeypatch)
        await test_a_connection_the_server_dropped_while_idle_is_replaced_once()
        await test_bytes_after_an_answer_retire_the_connection()
        await test_a_vendor_that_accepts_and_never_answers_times_out()

    (tmp_path / "direct").mkdir()
    (tmp_path / "tunnel").mkdir()
    uvloop.run(cases())
