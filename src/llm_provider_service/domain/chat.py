"""The Chat Completions surface in vendor-neutral form: images, tools, tool calls and their streamed pieces."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ToolChoiceMode = Literal["none", "auto", "required", "function"]


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image in a message: an https URL or a `data:` URL (base64), as OpenAI's `image_url` part holds it."""

    url: str
    detail: str | None = None
    cacheable = False  # like a text block without a cache marker (Anthropic counts breakpoints over parts)

    def inline_data(self) -> tuple[str, str] | None:
        """(media type, base64 data) of a `data:` URL; None for a remote URL. ValueError when malformed."""
        if not self.url.startswith("data:"):
            return None
        header, comma, data = self.url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if not comma or encoding != "base64" or not media_type.startswith("image/"):
            raise ValueError("an image data URL must be data:image/<type>;base64,<data>")
        try:
            base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise ValueError("an image data URL holds invalid base64") from exc
        return media_type, data


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: its name, what it does and the JSON schema of its arguments."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None

    @property
    def schema(self) -> Mapping[str, Any]:
        return self.parameters if self.parameters is not None else {"type": "object", "properties": {}}


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """Whether the model may, must or must not call a tool; `function` forces the tool `name`."""

    mode: ToolChoiceMode
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model made; `arguments` is the JSON text of the arguments, as OpenAI carries it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call: `id` and `name` come with its first piece, `arguments` in pieces."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class AnswerChoice:
    """One more answer when the caller asked for `n > 1` (the first is the `CompletionResponse` itself)."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    logprobs: Mapping[str, Any] | None = None
