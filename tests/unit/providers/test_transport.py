"""VendorTransport: timeouts, refused connections and non-JSON answers become ProviderErrors."""

from __future__ import annotations

import socket

import pytest

from llm_provider_service.domain.errors import ProviderError, ProviderErrorKind
from llm_provider_service.providers.http_client import open_http_session
from llm_provider_service.providers.sse import iter_sse
from tests.unit.providers.scripted_vendor import ScriptedAnswer, transport, vendor_session

K = ProviderErrorKind


async def test_a_hung_vendor_times_out() -> None:
    async with vendor_session(timeout_seconds=0.05) as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(hang=True))
        with pytest.raises(ProviderError) as raised:
            await transport(session, base_url, "openai").post_json("/chat/completions", {})
    assert raised.value.kind is K.TIMEOUT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_connection_refused_is_a_connection_error() -> None:
    async with open_http_session(timeout_seconds=5.0, connect_timeout_seconds=1.0) as session:
        client = transport(session, f"http://127.0.0.1:{free_port()}", "anthropic")
        with pytest.raises(ProviderError) as raised:
            await client.post_json("/v1/messages", {})
        with pytest.raises(ProviderError) as streamed:
            [event async for event in client.post_sse("/v1/messages", {})]
    assert raised.value.kind is K.CONNECTION
    assert streamed.value.kind is K.CONNECTION
    assert raised.value.provider == "anthropic"


@pytest.mark.parametrize("raw", [b"<html>ok</html>", b"[1, 2]"])
async def test_a_2xx_body_that_is_not_a_json_object_is_an_invalid_response(raw: bytes) -> None:
    async with vendor_session() as (vendor, base_url, session):
        vendor.script(ScriptedAnswer(raw=raw))
        with pytest.raises(ProviderError) as raised:
            await transport(session, base_url, "openai").post_json("/chat/completions", {})
    assert raised.value.kind is K.INVALID_RESPONSE


async def lines(*chunks: bytes):  # type: ignore[no-untyped-def]
    for chunk in chunks:
        yield chunk


async def test_sse_parser_follows_the_event_stream_rules() -> None:
    stream = lines(b": comment\n", b"event: a\r\n", b"data: one\n", b"data:two\n", b"\n", b"\n", b"data: last")
    events = [event async for event in iter_sse(stream)]
    assert [(event.event, event.data) for event in events] == [("a", "one\ntwo"), ("message", "last")]
