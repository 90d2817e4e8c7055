"""The chat client's connections (transport/h1_client.py) against a raw upstream: keep-alive reuse counted
at the server, no pipelining, a connection the upstream closed while idle never reused, idle expiry,
resets, silence (the read limit), a refused connection, TLS with a self-signed certificate, and the
chat path's ``open_upstream`` / ``read_answer`` over it with their error classification."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import struct
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from yarl import URL

from omnirouter.config.schema import ChannelConfig
from omnirouter.ir import ErrorKind
from omnirouter.protocols.registry import codec_for
from omnirouter.routing import Channel
from omnirouter.transport import AttemptFailure, classify_transport_error, open_upstream, read_answer
from omnirouter.transport.h1_client import ConnectTimeout, H1Client
from omnirouter.transport.h1_conn import ConnectFailed, ReadTimeout
from tests.helpers.raw_http import RawRequest, answer, raw_upstream

HEADERS = {"content-type": "application/json"}
OK = answer(b'{"ok":1}', "Content-Type: application/json")


async def ok(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
    writer.write(OK)
    await writer.drain()
    return True


async def test_sequential_requests_reuse_one_kept_alive_connection() -> None:
    async with raw_upstream(ok) as up:
        client = H1Client()
        for _ in range(3):
            response = await client.post(URL(up.url), HEADERS, b"{}")
            assert await response.read() == b'{"ok":1}'
            response.release()
        assert (up.connections, client.connections_made, client.idle) == (1, 1, 1)
        assert [r.connection for r in up.requests] == [1, 1, 1]
        await client.close()


async def test_concurrent_requests_are_never_pipelined_on_one_connection() -> None:
    async def slow(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.05)
        return await ok(request, writer)

    async with raw_upstream(slow) as up:
        client = H1Client()
        answers = await asyncio.gather(*[client.post(URL(up.url), HEADERS, b"{}") for _ in range(4)])
        assert [await a.read() for a in answers] == [b'{"ok":1}'] * 4
        assert up.connections == 4 and client.idle == 4
        again = await client.post(URL(up.url), HEADERS, b"{}")  # reuses one of them
        await again.read()
        assert up.connections == 4
        await client.close()


async def test_a_connection_the_upstream_closed_while_idle_is_not_reused() -> None:
    async def answer_then_close(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        await ok(request, writer)
        await asyncio.sleep(0.05)
        return False  # the server closes the kept-alive connection once idle

    async with raw_upstream(answer_then_close) as up:
        client = H1Client()
        first = await client.post(URL(up.url), HEADERS, b"{}")
        assert await first.read() == b'{"ok":1}'
        for _ in range(100):
            if client.idle == 0:
                break
            await asyncio.sleep(0.01)
        assert client.idle == 0  # its close was seen: out of the pool
        second = await client.post(URL(up.url), HEADERS, b"{}")
        assert await second.read() == b'{"ok":1}'
        assert up.connections == 2 and [r.connection for r in up.requests] == [1, 2]
        await client.close()


async def test_an_answer_saying_connection_close_is_not_reused() -> None:
    async def closing(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(b"bye", "Connection: close"))
        await writer.drain()
        return True  # the server would go on: the client must not

    async with raw_upstream(closing) as up:
        client = H1Client()
        for _ in range(2):
            assert await (await client.post(URL(up.url), HEADERS, b"{}")).read() == b"bye"
        assert up.connections == 2
        await client.close()


async def test_idle_connections_expire() -> None:
    async with raw_upstream(ok) as up:
        client = H1Client(keepalive=0.05)
        await (await client.post(URL(up.url), HEADERS, b"{}")).read()
        await asyncio.sleep(0.1)
        await (await client.post(URL(up.url), HEADERS, b"{}")).read()
        assert up.connections == 2
        await client.close()


async def test_bytes_from_an_idle_connection_drop_it() -> None:
    async def chatty(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(OK)
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")  # nobody asked
        await writer.drain()
        return True

    async with raw_upstream(chatty) as up:
        client = H1Client()
        await (await client.post(URL(up.url), HEADERS, b"{}")).read()
        await asyncio.sleep(0.1)
        assert client.idle == 0
        await (await client.post(URL(up.url), HEADERS, b"{}")).read()
        assert up.connections == 2
        await client.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def test_a_reset_before_the_answer_is_a_classified_error() -> None:
    async def reset(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        _reset(writer)
        return False

    async with raw_upstream(reset) as up:
        client = H1Client()
        with pytest.raises(OSError) as caught:
            await client.post(URL(up.url), HEADERS, b"{}")
        assert classify_transport_error(caught.value, "c").kind is ErrorKind.UPSTREAM
        await client.close()


async def test_a_reset_in_the_middle_of_a_body_is_a_classified_error() -> None:
    async def reset(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npart")
        await writer.drain()
        await asyncio.sleep(0.05)
        _reset(writer)
        return False

    async with raw_upstream(reset) as up:
        client = H1Client()
        response = await client.post(URL(up.url), HEADERS, b"{}")
        with pytest.raises(OSError) as caught:
            await response.read()
        assert classify_transport_error(caught.value, "c").kind is ErrorKind.UPSTREAM
        assert client.idle == 0
        await client.close()


async def test_silence_past_the_read_limit_is_a_timeout() -> None:
    async def silent_midway(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        if len(up.requests) == 2:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfive ")
            await writer.drain()
        await asyncio.sleep(5)
        return False

    async with raw_upstream(silent_midway) as up:
        client = H1Client()
        with pytest.raises(ReadTimeout) as caught:  # no head
            await client.post(URL(up.url), HEADERS, b"{}", read=0.1)
        assert classify_transport_error(caught.value, "c").kind is ErrorKind.UPSTREAM_TIMEOUT
        response = await client.post(URL(up.url), HEADERS, b"{}", read=0.1)
        assert await response.content.readany() == b"five "
        with pytest.raises(ReadTimeout):  # silence between body reads
            await response.content.readany()
        assert client.idle == 0
        await client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_a_refused_connection_is_unreachable() -> None:
    client = H1Client()
    with pytest.raises(ConnectFailed) as caught:
        await client.post(URL(f"http://127.0.0.1:{_free_port()}/v1"), HEADERS, b"{}", connect=2)
    assert classify_transport_error(caught.value, "c").kind is ErrorKind.UPSTREAM_UNREACHABLE


async def test_a_connection_not_made_within_the_connect_limit_is_a_timeout() -> None:
    """A server that takes the TCP connection but never answers the TLS handshake: the connect limit (TLS
    included) runs out, classified as a timeout like aiohttp's connect timeout."""
    async with raw_upstream(ok) as up:
        client = H1Client()
        url = URL(up.url.replace("http://127.0.0.1", "https://localhost"))
        with pytest.raises(ConnectTimeout) as caught:
            await client.post(url, HEADERS, b"{}", connect=0.2)
        assert classify_transport_error(caught.value, "c").kind is ErrorKind.UPSTREAM_TIMEOUT
        assert client.connections_made == 0


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def test_tls_with_a_trusted_certificate_verifies_the_name_and_reuses_the_connection(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    sni: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, ctx: sni.append(name)
    async with raw_upstream(ok, tls=server_tls) as up:
        trusting = ssl.create_default_context(cafile=str(cert))
        client = H1Client(ssl_context=trusting)
        for _ in range(2):
            assert await (await client.post(URL(up.url), HEADERS, b"{}")).read() == b'{"ok":1}'
        assert up.connections == 1 and sni == ["localhost"]
        await client.close()
        # The default context (the system's roots) does not trust it: unreachable, as a TLS failure.
        strict = H1Client()
        with pytest.raises(ConnectFailed) as caught:
            await strict.post(URL(up.url), HEADERS, b"{}", connect=5)
        assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
        assert classify_transport_error(caught.value, "c").kind is ErrorKind.UPSTREAM_UNREACHABLE
        # A name the certificate does not carry fails verification too.
        wrong_name = H1Client(ssl_context=trusting)
        with pytest.raises(ConnectFailed):
            await wrong_name.post(URL(up.url.replace("localhost", "127.0.0.2")), HEADERS, b"{}", connect=5)


def _channel(url: str, **extra: object) -> Channel:
    base = url.removesuffix("/chat/completions")
    config = ChannelConfig(name="raw", provider="openai", base_url=base, api_keys=["sk-raw"], models=["m"], **extra)  # type: ignore[arg-type]
    return Channel(config)


class _Attempt:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.protocol = channel.spec.protocol
        self.upstream_model = "m"


async def test_the_chat_path_over_the_client_reads_answers_and_classifies_failures() -> None:
    """``open_upstream`` + ``read_answer`` as relay/chat.py calls them: a 2xx answer whole and its connection
    kept; an error status refused with its body decoded and Retry-After kept; the channel's first-byte
    limit as the plain call's read limit."""
    script = [
        OK,
        answer(b'{"error":{"message":"slow down","type":"rate_limit"}}', "Retry-After: 3", status="429 Too Many"),
        None,  # silence
    ]

    async def scripted(request: RawRequest, writer: asyncio.StreamWriter) -> bool:
        raw = script[len(up.requests) - 1]
        if raw is None:
            await asyncio.sleep(5)
            return False
        writer.write(raw)
        await writer.drain()
        return True

    async with raw_upstream(scripted) as up:
        client = H1Client()
        attempt = _Attempt(_channel(up.url, first_byte_timeout=0.2))
        codec = codec_for(attempt.protocol)
        response = await open_upstream(client, attempt, "sk-raw", b"{}", False, codec)
        assert await read_answer(response, attempt.channel) == b'{"ok":1}'
        assert up.requests[0].header("authorization") == "Bearer sk-raw" and client.idle == 1
        with pytest.raises(AttemptFailure) as refused:
            await open_upstream(client, attempt, "sk-raw", b"{}", False, codec)
        assert refused.value.upstream_status == 429 and refused.value.retryable
        assert refused.value.error.retry_after == 3 and "slow down" in refused.value.error.message
        with pytest.raises(AttemptFailure) as silent:
            await open_upstream(client, attempt, "sk-raw", b"{}", False, codec)
        assert silent.value.error.kind is ErrorKind.UPSTREAM_TIMEOUT
        # The refused answer's connection was kept (its body read whole) and used again; the silent one dropped.
        assert [r.connection for r in up.requests] == [1, 1, 1] and client.idle == 0
        await client.close()
