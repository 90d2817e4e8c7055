"""multipart/form-data: what the openai SDK sends parses as sent, build → parse round-trips, other parsers
read what ``build_form`` writes, and malformed bodies (hand-made and fuzzed) are 400 ``GatewayError``s."""

from __future__ import annotations

import email.parser
import email.policy
import logging
from typing import Any

import httpx
import openai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnirouter.http.multipart import FilePart, Form, build_form, parse_form
from omnirouter.ir import ErrorKind, GatewayError

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\r\n--not-a-boundary\r\n" + bytes(200)


def sdk_request(call: Any) -> httpx.Request:
    """The request the official openai SDK sends for ``call(client)`` (answered 200 ``{}`` by a transport)."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        sent.append(request)
        return httpx.Response(200, json={"text": "ok", "created": 0, "data": []})

    http_client = httpx.Client(transport=httpx.MockTransport(answer))
    client = openai.OpenAI(api_key="sk-test", base_url="http://gateway.test/v1", http_client=http_client)
    call(client)
    return sent[0]


def parse_request(request: httpx.Request) -> Form:
    return parse_form(request.content, request.headers["content-type"])


def test_sdk_transcription_fields_keep_their_names() -> None:
    request = sdk_request(
        lambda client: client.audio.transcriptions.create(
            model="gpt-4o-transcribe",
            file=("speech.wav", WAV, "audio/wav"),
            timestamp_granularities=["word", "segment"],
            include=["logprobs"],
            chunking_strategy={"type": "server_vad", "threshold": 0.5},
            temperature=0.2,
            response_format="json",
        )
    )
    form = parse_request(request)
    assert form.text("model") == "gpt-4o-transcribe"
    assert form.fields["timestamp_granularities[]"] == ["word", "segment"]
    assert form.texts("timestamp_granularities") == ["word", "segment"]
    assert form.texts("include") == ["logprobs"]
    assert form.subfields("chunking_strategy") == {"type": "server_vad", "threshold": "0.5"}
    assert "chunking_strategy[type]" in form.fields
    assert form.text("temperature") == "0.2"
    [audio] = form.files
    assert (audio.field, audio.filename, audio.content_type, audio.data) == ("file", "speech.wav", "audio/wav", WAV)
    assert form.file("file") == audio


def test_sdk_image_edit_with_several_images() -> None:
    request = sdk_request(
        lambda client: client.images.edit(
            model="gpt-image-1",
            prompt="a cat",
            image=[("a.png", PNG, "image/png"), ("b.png", PNG[::-1], "image/png")],
            mask=("m.png", PNG[:100], "image/png"),
        )
    )
    form = parse_request(request)
    images = form.files_named("image")
    assert [(part.field, part.filename, part.data) for part in images] == [
        ("image[]", "a.png", PNG),
        ("image[]", "b.png", PNG[::-1]),
    ]
    mask = form.file("mask")
    assert mask is not None and mask.data == PNG[:100]
    assert form.text("prompt") == "a cat"
    assert "image[]" not in form.fields  # files, never text fields


def test_files_named_accepts_every_spelling_in_order() -> None:
    files = [
        FilePart("image", "0.png", "image/png", b"0"),
        FilePart("mask", "m.png", "image/png", b"m"),
        FilePart("image[]", "1.png", "image/png", b"1"),
        FilePart("image[2]", "2.png", "image/png", b"2"),
        FilePart("images", "x.png", "image/png", b"x"),
        FilePart("image[a]", "y.png", "image/png", b"y"),
    ]
    form = parse_form(*build_form([("image[]", "not a file")], files))
    assert [part.data for part in form.files_named("image")] == [b"0", b"1", b"2"]
    assert [part.data for part in form.files_named("mask")] == [b"m"]
    assert form.files_named("file") == []
    assert form.file("file") is None
    assert form.text("missing") is None
    assert form.has("image") and form.has("mask") and not form.has("file")


def test_round_trip_keeps_fields_files_and_order() -> None:
    fields = [
        ("model", "whisper-1"),
        ("prompt", "héllo\r\n--boundary-like\r\nline"),
        ("timestamp_granularities[]", "word"),
        ("timestamp_granularities[]", "segment"),
        ("chunking_strategy[type]", "server_vad"),
        ("empty", ""),
    ]
    files = [
        FilePart("file", "réunion 1.wav", "audio/wav", WAV),
        FilePart("image[]", "a.png", "image/png", PNG),
        FilePart("image[]", "empty.bin", "application/octet-stream", b""),
    ]
    body, content_type = build_form(fields, files)
    assert content_type.startswith("multipart/form-data; boundary=")
    form = parse_form(body, content_type)
    assert list(form.pairs) == fields
    assert list(form.files) == files
    assert form.fields["timestamp_granularities[]"] == ["word", "segment"]


def test_two_builds_use_different_boundaries() -> None:
    assert build_form([("a", "b")], [])[1] != build_form([("a", "b")], [])[1]


def test_stdlib_email_parser_reads_a_built_form() -> None:
    body, content_type = build_form([("model", "m"), ("prompt", "p")], [FilePart("file", "s.wav", "audio/wav", WAV)])
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    parts = list(message.iter_parts())
    assert [part.get_param("name", header="content-disposition") for part in parts] == ["model", "prompt", "file"]
    assert parts[2].get_filename() == "s.wav"
    assert parts[2].get_content_type() == "audio/wav"
    assert parts[2].get_payload(decode=True) == WAV


async def test_aiohttp_server_reads_a_built_form() -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        for name, value in (await request.post()).items():
            seen[name] = value if isinstance(value, str) else (value.filename, value.content_type, value.file.read())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/edit", handler)
    fields = [("prompt", "a dog"), ("model", "gpt-image-1")]
    files = [FilePart("image", "é dog.png", "image/png", PNG)]
    body, content_type = build_form(fields, files)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/edit", data=body, headers={"Content-Type": content_type})
        assert response.status == 200
    assert seen["prompt"] == "a dog"
    assert seen["model"] == "gpt-image-1"
    assert seen["image"] == ("é dog.png", "image/png", PNG)


def test_quotes_and_line_breaks_in_names_are_escaped_like_httpx() -> None:
    body, content_type = build_form([('we"ird\r\nname', "v")], [FilePart("file", 'a"b\n.wav', "audio/wav", b"x")])
    assert b"we%22ird%0D%0Aname" in body and b"a%22b%0A.wav" in body
    form = parse_form(body, content_type)
    assert form.pairs == (("we%22ird%0D%0Aname", "v"),)
    assert form.files[0].filename == "a%22b%0A.wav"


def test_a_part_without_content_type_is_an_octet_stream_file() -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\nabc\r\n--b--\r\n'
    form = parse_form(body, "multipart/form-data; boundary=b")
    assert form.files == (FilePart("file", "x", "application/octet-stream", b"abc"),)


def test_quoted_boundary_and_preamble_free_minimal_body() -> None:
    body = b'--a b\r\nContent-Disposition: form-data; name="k"\r\n\r\nv\r\n--a b--'
    assert parse_form(body, 'multipart/form-data; boundary="a b"').pairs == (("k", "v"),)


def test_an_empty_form_is_a_form() -> None:
    form = parse_form(b"--b--\r\n", "multipart/form-data; boundary=b")
    assert form.pairs == () and form.files == ()


def invalid(body: bytes, content_type: str, **limits: int) -> str:
    with pytest.raises(GatewayError) as caught:
        parse_form(body, content_type, **limits)
    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert caught.value.status == 400
    return caught.value.message


GOOD_BODY, GOOD_TYPE = build_form([("model", "whisper-1")], [FilePart("file", "a.wav", "audio/wav", WAV)])


@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        ("application/json", "application/json"),
        ("", "none"),
        ("multipart/mixed; boundary=x", "multipart/mixed"),
        ("multipart/form-data", "no boundary"),
        ("multipart/form-data; boundary=", "no boundary"),
        ("multipart/form-data; boundary=" + "x" * 300, "boundary is invalid"),
        ('multipart/form-data; boundary="bad\x00char"', "boundary is invalid"),
    ],
)
def test_content_type_problems_are_named(content_type: str, words: str) -> None:
    assert words in invalid(GOOD_BODY, content_type)


def test_another_boundary_than_the_body_uses_is_malformed() -> None:
    assert "malformed" in invalid(GOOD_BODY, "multipart/form-data; boundary=other")


@pytest.mark.parametrize("cut", [0, 1, 10, len(GOOD_BODY) // 2, len(GOOD_BODY) - 5])
def test_truncated_bodies_are_refused(cut: int) -> None:
    message = invalid(GOOD_BODY[:cut], GOOD_TYPE)
    assert "truncated" in message or "malformed" in message


def test_malformed_bodies_do_not_fill_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        invalid(GOOD_BODY, "multipart/form-data; boundary=other")
        invalid(GOOD_BODY.replace(b"--\r\n", b"-x\r\n"), GOOD_TYPE)
    assert caplog.records == []


def test_a_part_without_a_name_is_refused() -> None:
    body = b"--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--\r\n"
    assert "Content-Disposition" in invalid(body, "multipart/form-data; boundary=b")
    body = b"--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--\r\n"
    assert "Content-Disposition" in invalid(body, "multipart/form-data; boundary=b")


def test_text_that_is_not_utf8_is_refused() -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="k"\r\n\r\n\xff\xfe\r\n--b--\r\n'
    assert "not UTF-8" in invalid(body, "multipart/form-data; boundary=b")


def test_too_many_parts() -> None:
    body, content_type = build_form([("k", "v")] * 1001, [])
    assert "more than 1000 parts" in invalid(body, content_type)
    body, content_type = build_form([("k", "v")] * 1000, [])
    assert len(parse_form(body, content_type).pairs) == 1000
    assert "more than 3 parts" in invalid(*build_form([], [FilePart("f", "x", "a/b", b"")] * 4), max_parts=3)


def test_text_fields_are_capped_but_files_are_not() -> None:
    big = "x" * (1024 * 1024 + 1)
    assert "text field 'prompt' is larger than 1048576 bytes" in invalid(*build_form([("prompt", big)], []))
    assert len(parse_form(*build_form([("prompt", big[:-1])], [])).pairs[0][1]) == 1024 * 1024
    form = parse_form(*build_form([], [FilePart("file", "a.wav", "audio/wav", big.encode())]))
    assert len(form.files[0].data) == len(big)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=600), st.sampled_from(["multipart/form-data; boundary=b", GOOD_TYPE]))
def test_arbitrary_bytes_raise_only_gateway_errors(body: bytes, content_type: str) -> None:
    try:
        parse_form(body, content_type, max_parts=5, max_field_bytes=64)
    except GatewayError as exc:
        assert exc.kind is ErrorKind.INVALID_REQUEST


@FUZZ
@given(st.text(max_size=80), st.binary(max_size=200))
def test_arbitrary_content_types_raise_only_gateway_errors(content_type: str, body: bytes) -> None:
    try:
        parse_form(body, content_type)
    except GatewayError as exc:
        assert exc.kind is ErrorKind.INVALID_REQUEST


@FUZZ
@given(st.data())
def test_mutated_valid_bodies_raise_only_gateway_errors(data: st.DataObject) -> None:
    body = bytearray(GOOD_BODY)
    for _ in range(data.draw(st.integers(1, 6))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = data.draw(st.integers(0, max(0, len(body) - 1)))
        if action == "flip" and body:
            body[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del body[at:]
        elif action == "insert":
            body[at:at] = data.draw(st.sampled_from([b"\r\n", b"--", b"\r\n--", b":", b";", b'"', b"\x00", b"\n\n"]))
        else:
            del body[at : at + data.draw(st.integers(1, 40))]
    try:
        form = parse_form(bytes(body), GOOD_TYPE)
    except GatewayError as exc:
        assert exc.kind is ErrorKind.INVALID_REQUEST
    else:
        assert len(form.pairs) + len(form.files) <= 2 + bytes(body).count(b"--")


@FUZZ
@given(
    st.lists(st.tuples(st.text(min_size=1, max_size=20), st.text(max_size=50)), max_size=6),
    st.lists(
        st.builds(
            FilePart,
            st.text(min_size=1, max_size=20),
            st.text(max_size=20),
            st.sampled_from(["image/png", "audio/wav", "application/octet-stream"]),
            st.binary(max_size=300),
        ),
        max_size=4,
    ),
)
def test_any_built_form_parses_back(fields: list[tuple[str, str]], files: list[FilePart]) -> None:
    """Names without the characters that are escaped (quotes, CR, LF, backslash) come back as given."""
    plain = str.maketrans("", "", '"\r\n\\\x00')
    fields = [(name.translate(plain) or "k", value) for name, value in fields]
    files = [
        FilePart(f.field.translate(plain) or "f", f.filename.translate(plain), f.content_type, f.data) for f in files
    ]
    form = parse_form(*build_form(fields, files))
    assert list(form.pairs) == fields
    assert list(form.files) == files
