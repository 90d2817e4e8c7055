"""One driver per inbound protocol, each using that protocol's official SDK over real HTTP.

A driver keeps a conversation in its protocol's native form (as a real client
would: the assistant turn is appended exactly as the SDK returned it, signatures
and all), sends user turns (text, images, tool results) with options (tools,
tool choice, reasoning, JSON schema) plain or streamed, and reports the reply
in neutral terms so one test can check every protocol pair.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import anthropic
import httpx2
import openai
from google import genai
from google.genai import types as gtypes


@dataclass
class ToolCall:
    id: str
    name: str
    args: dict[str, Any]


@dataclass
class Reply:
    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    stop: str = ""  # end | tool_calls | length | content_filter | refusal
    refusal: str = ""  # a refusal the protocol keeps apart from the text (OpenAI `refusal`)
    usage: dict[str, int | None] = field(default_factory=dict)  # IR convention
    raw: Any = None


@dataclass
class Image:
    data: bytes | None = None
    url: str | None = None
    media_type: str = "image/png"


@dataclass
class UserTurn:
    text: str = ""
    image: Image | None = None
    tool_results: list[tuple[ToolCall, str]] = field(default_factory=list)


@dataclass
class Options:
    tools: list[dict[str, Any]] | None = None  # neutral: {name, description, parameters}
    tool_choice: str | None = None  # auto | required | none | <tool name>
    parallel: bool | None = None
    reasoning: bool = False
    json_schema: dict[str, Any] | None = None
    max_tokens: int | None = None


class Driver(Protocol):
    name: str
    partial: str  # the answer text streamed so far in the last send (what a client has shown)

    def start(self, system: str | None) -> Any: ...

    async def send(self, convo: Any, model: str, turn: UserTurn, opts: Options, stream: bool) -> Reply: ...

    async def close(self) -> None: ...


def _args(text: str) -> dict[str, Any]:
    parsed = json.loads(text or "{}")
    assert isinstance(parsed, dict)
    return parsed


# ---------------------------------------------------------------- OpenAI Chat Completions


class OpenAIChatDriver:
    name = "openai_chat"

    def __init__(self, url: str, key: str) -> None:
        self.client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)
        self.partial = ""

    def start(self, system: str | None) -> list[dict[str, Any]]:
        return [{"role": "system", "content": system}] if system else []

    async def send(self, convo: list[dict[str, Any]], model: str, turn: UserTurn, opts: Options, stream: bool) -> Reply:
        self.partial = ""
        for call, output in turn.tool_results:
            convo.append({"role": "tool", "tool_call_id": call.id, "content": output})
        if turn.text or turn.image:
            content: list[dict[str, Any]] = [{"type": "text", "text": turn.text}]
            if turn.image is not None:
                url = turn.image.url or (
                    f"data:{turn.image.media_type};base64,{base64.b64encode(turn.image.data or b'').decode()}"
                )
                content.append({"type": "image_url", "image_url": {"url": url}})
            convo.append({"role": "user", "content": content})
        kwargs: dict[str, Any] = {"model": model, "messages": convo}
        if opts.tools:
            kwargs["tools"] = [{"type": "function", "function": t} for t in opts.tools]
        if opts.tool_choice:
            choice = opts.tool_choice
            kwargs["tool_choice"] = (
                choice if choice in ("auto", "required", "none") else {"type": "function", "function": {"name": choice}}
            )
        if opts.parallel is not None:
            kwargs["parallel_tool_calls"] = opts.parallel
        if opts.reasoning:
            kwargs["reasoning_effort"] = "low"
        if opts.json_schema:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": opts.json_schema, "strict": True},
            }
        if opts.max_tokens:
            kwargs["max_completion_tokens"] = opts.max_tokens
        if not stream:
            completion = await self.client.chat.completions.create(**kwargs)
            message = completion.choices[0].message.model_dump(exclude_none=True)
            finish = completion.choices[0].finish_reason
            usage = completion.usage.model_dump() if completion.usage else {}
        else:
            message, finish, usage = await self._stream(kwargs)
        convo.append(message)
        stop = {"stop": "end", "tool_calls": "tool_calls"}.get(finish or "", finish or "")
        if stop == "end" and message.get("refusal") is not None:  # OpenAI's way to say "refused"
            stop = "refusal"
        return Reply(
            text=message.get("content") or "",
            refusal=message.get("refusal") or "",
            reasoning=message.get("reasoning_content") or "",
            tool_calls=[
                ToolCall(c["id"], c["function"]["name"], _args(c["function"]["arguments"]))
                for c in message.get("tool_calls") or []
            ],
            stop=stop,
            usage=_openai_usage(usage),
            raw=message,
        )

    async def _stream(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
        stream = await self.client.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        )
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        calls: dict[int, dict[str, Any]] = {}
        blocks: dict[int, dict[str, Any]] = {}
        finish: str | None = None
        usage: dict[str, Any] = {}
        async for chunk in stream:
            data = chunk.model_dump(exclude_none=True)
            if data.get("usage"):
                usage = data["usage"]
            for choice in data.get("choices", []):
                delta = choice.get("delta", {})
                message["content"] += delta.get("content") or ""
                self.partial += delta.get("content") or ""
                if isinstance(delta.get("refusal"), str):
                    message["refusal"] = message.get("refusal", "") + delta["refusal"]
                if delta.get("reasoning_content"):
                    message["reasoning_content"] = message.get("reasoning_content", "") + delta["reasoning_content"]
                for block in delta.get("thinking_blocks") or []:
                    blocks[block.pop("index", len(blocks))] = block
                for fragment in delta.get("tool_calls") or []:
                    call = calls.setdefault(
                        fragment["index"], {"type": "function", "function": {"name": "", "arguments": ""}}
                    )
                    for key in ("id", "extra_content"):
                        if key in fragment:
                            call[key] = fragment[key]
                    function = fragment.get("function", {})
                    call["function"]["name"] += function.get("name") or ""
                    call["function"]["arguments"] += function.get("arguments") or ""
                finish = choice.get("finish_reason") or finish
        if calls:
            message["tool_calls"] = [calls[i] for i in sorted(calls)]
        if blocks:
            message["thinking_blocks"] = [blocks[i] for i in sorted(blocks)]
        if not message["content"] and calls:
            message["content"] = None
        return message, finish, usage

    async def close(self) -> None:
        await self.client.close()


def _openai_usage(usage: dict[str, Any]) -> dict[str, int | None]:
    if not usage:
        return {}
    return {
        "input": usage.get("prompt_tokens"),
        "output": usage.get("completion_tokens"),
        "cached": (usage.get("prompt_tokens_details") or {}).get("cached_tokens"),
        "reasoning": (usage.get("completion_tokens_details") or {}).get("reasoning_tokens"),
    }


# ---------------------------------------------------------------- OpenAI Responses


class ResponsesDriver:
    name = "openai_responses"

    def __init__(self, url: str, key: str) -> None:
        self.client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)
        self.system: str | None = None
        self.partial = ""

    def start(self, system: str | None) -> list[Any]:
        self.system = system
        return []

    async def send(self, convo: list[Any], model: str, turn: UserTurn, opts: Options, stream: bool) -> Reply:
        self.partial = ""
        for call, output in turn.tool_results:
            convo.append({"type": "function_call_output", "call_id": call.id, "output": output})
        if turn.text or turn.image:
            content: list[dict[str, Any]] = [{"type": "input_text", "text": turn.text}]
            if turn.image is not None:
                url = turn.image.url or (
                    f"data:{turn.image.media_type};base64,{base64.b64encode(turn.image.data or b'').decode()}"
                )
                content.append({"type": "input_image", "image_url": url, "detail": "auto"})
            convo.append({"role": "user", "content": content})
        kwargs: dict[str, Any] = {"model": model, "input": convo}
        if self.system:
            kwargs["instructions"] = self.system
        if opts.tools:
            kwargs["tools"] = [{"type": "function", "strict": False, **t} for t in opts.tools]
        if opts.tool_choice:
            choice = opts.tool_choice
            kwargs["tool_choice"] = (
                choice if choice in ("auto", "required", "none") else {"type": "function", "name": choice}
            )
        if opts.parallel is not None:
            kwargs["parallel_tool_calls"] = opts.parallel
        if opts.reasoning:
            kwargs["reasoning"] = {"effort": "low", "summary": "auto"}
        if opts.json_schema:
            kwargs["text"] = {"format": {"type": "json_schema", "name": "answer", "schema": opts.json_schema}}
        if opts.max_tokens:
            kwargs["max_output_tokens"] = opts.max_tokens
        if stream:
            # The SDK's get_final_response() only knows response.completed; response.incomplete ends a stream too.
            # The stream helper yields `error` / `response.failed` without raising: a client (Codex) reports them
            # as the request's failure, so this one raises the SDK's error for them.
            async with self.client.responses.stream(**kwargs) as events:
                async for event in events:
                    if event.type == "response.output_text.delta":
                        self.partial += event.delta
                    elif event.type == "error":
                        raise openai.APIError(event.message, self._request(), body=event.model_dump())
                    elif event.type == "response.failed":
                        error = event.response.error
                        message = error.message if error else "the response failed"
                        body = error.model_dump() if error else None
                        raise openai.APIError(message, self._request(), body=body)
                    elif event.type in ("response.completed", "response.incomplete"):
                        response = event.response
        else:
            response = await self.client.responses.create(**kwargs)
        items = [item.model_dump(exclude_none=True) for item in response.output]
        convo.extend(items)
        calls = [
            ToolCall(i["call_id"], i["name"], _args(i["arguments"])) for i in items if i["type"] == "function_call"
        ]
        reasoning = "".join(s["text"] for i in items if i["type"] == "reasoning" for s in i.get("summary", []))
        refusal = "".join(
            part["refusal"]
            for i in items
            if i["type"] == "message"
            for part in i.get("content", [])
            if part["type"] == "refusal"
        )
        if response.status == "incomplete":
            reason = response.incomplete_details.reason if response.incomplete_details else ""
            stop = {"max_output_tokens": "length"}.get(reason or "", reason or "")
        else:
            stop = "tool_calls" if calls else "refusal" if refusal else "end"
        usage = response.usage
        return Reply(
            text=response.output_text,
            refusal=refusal,
            reasoning=reasoning,
            tool_calls=calls,
            stop=stop,
            usage={
                "input": usage.input_tokens,
                "output": usage.output_tokens,
                "cached": usage.input_tokens_details.cached_tokens,
                "reasoning": usage.output_tokens_details.reasoning_tokens,
            }
            if usage
            else {},
            raw=response,
        )

    def _request(self) -> httpx2.Request:
        return httpx2.Request("POST", f"{self.client.base_url}responses")

    async def close(self) -> None:
        await self.client.close()


# ---------------------------------------------------------------- Anthropic Messages


class AnthropicDriver:
    name = "anthropic"

    def __init__(self, url: str, key: str) -> None:
        self.client = anthropic.AsyncAnthropic(base_url=url, api_key=key, max_retries=0, timeout=30)
        self.system: str | None = None
        self.partial = ""

    def start(self, system: str | None) -> list[dict[str, Any]]:
        self.system = system
        return []

    async def send(self, convo: list[dict[str, Any]], model: str, turn: UserTurn, opts: Options, stream: bool) -> Reply:
        self.partial = ""
        content: list[dict[str, Any]] = [
            {"type": "tool_result", "tool_use_id": call.id, "content": output} for call, output in turn.tool_results
        ]
        if turn.text:
            content.append({"type": "text", "text": turn.text})
        if turn.image is not None:
            source = (
                {"type": "url", "url": turn.image.url}
                if turn.image.url
                else {
                    "type": "base64",
                    "media_type": turn.image.media_type,
                    "data": base64.b64encode(turn.image.data or b"").decode(),
                }
            )
            content.append({"type": "image", "source": source})
        convo.append({"role": "user", "content": content})
        kwargs: dict[str, Any] = {"model": model, "messages": convo, "max_tokens": opts.max_tokens or 4096}
        if self.system:
            kwargs["system"] = self.system
        if opts.tools:
            kwargs["tools"] = [
                {"name": t["name"], "description": t["description"], "input_schema": t["parameters"]}
                for t in opts.tools
            ]
        if opts.tool_choice:
            choice = opts.tool_choice
            mapped: dict[str, Any] = (
                {"type": {"auto": "auto", "required": "any", "none": "none"}[choice]}
                if choice in ("auto", "required", "none")
                else {"type": "tool", "name": choice}
            )
            if opts.parallel is False:
                mapped["disable_parallel_tool_use"] = True
            kwargs["tool_choice"] = mapped
        if opts.reasoning:
            kwargs["thinking"] = {"type": "enabled", "budget_tokens": 2048}
        if opts.json_schema:
            kwargs["extra_body"] = {"output_config": {"format": {"type": "json_schema", "schema": opts.json_schema}}}
        if stream:
            async with self.client.messages.stream(**kwargs) as events:
                async for event in events:
                    if event.type == "text":
                        self.partial += event.text
                message = await events.get_final_message()
        else:
            message = await self.client.messages.create(**kwargs)
        blocks = [block.model_dump(exclude_none=True) for block in message.content]
        for block in blocks:
            block.pop("citations", None)
        convo.append({"role": "assistant", "content": blocks})
        usage = message.usage
        cache_read = usage.cache_read_input_tokens or 0
        cache_write = usage.cache_creation_input_tokens or 0
        return Reply(
            text="".join(b["text"] for b in blocks if b["type"] == "text"),
            reasoning="".join(b.get("thinking", "") for b in blocks if b["type"] == "thinking"),
            tool_calls=[ToolCall(b["id"], b["name"], b["input"]) for b in blocks if b["type"] == "tool_use"],
            stop={"end_turn": "end", "tool_use": "tool_calls", "max_tokens": "length"}.get(
                message.stop_reason or "", message.stop_reason or ""
            ),
            usage={
                "input": usage.input_tokens + cache_read + cache_write,
                "output": usage.output_tokens,
                "cached": cache_read,
                "reasoning": usage.output_tokens_details.thinking_tokens if usage.output_tokens_details else None,
            },
            raw=message,
        )

    async def close(self) -> None:
        await self.client.close()


# ---------------------------------------------------------------- Gemini


class GeminiDriver:
    name = "gemini"

    def __init__(self, url: str, key: str) -> None:
        self.client = genai.Client(
            api_key=key, http_options=gtypes.HttpOptions(base_url=url, api_version="v1beta", timeout=30_000)
        )
        self.system: str | None = None
        self.partial = ""

    def start(self, system: str | None) -> list[gtypes.Content]:
        self.system = system
        return []

    async def send(self, convo: list[gtypes.Content], model: str, turn: UserTurn, opts: Options, stream: bool) -> Reply:
        self.partial = ""
        parts: list[gtypes.Part] = [
            gtypes.Part(
                function_response=gtypes.FunctionResponse(id=call.id or None, name=call.name, response={"result": out})
            )
            for call, out in turn.tool_results
        ]
        if turn.text:
            parts.append(gtypes.Part(text=turn.text))
        if turn.image is not None:
            if turn.image.url:
                parts.append(gtypes.Part.from_uri(file_uri=turn.image.url, mime_type=turn.image.media_type))
            else:
                parts.append(gtypes.Part.from_bytes(data=turn.image.data or b"", mime_type=turn.image.media_type))
        convo.append(gtypes.Content(role="user", parts=parts))
        config = gtypes.GenerateContentConfig(
            system_instruction=self.system,
            max_output_tokens=opts.max_tokens,
            automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True),
        )
        if opts.tools:
            config.tools = [
                gtypes.Tool(
                    function_declarations=[
                        gtypes.FunctionDeclaration(
                            name=t["name"], description=t["description"], parameters_json_schema=t["parameters"]
                        )
                        for t in opts.tools
                    ]
                )
            ]
        if opts.tool_choice:
            choice = opts.tool_choice
            mode = {"auto": "AUTO", "required": "ANY", "none": "NONE"}.get(choice, "ANY")
            names = None if choice in ("auto", "required", "none") else [choice]
            config.tool_config = gtypes.ToolConfig(
                function_calling_config=gtypes.FunctionCallingConfig(mode=mode, allowed_function_names=names)  # type: ignore[arg-type]
            )
        if opts.reasoning:
            config.thinking_config = gtypes.ThinkingConfig(include_thoughts=True, thinking_budget=2048)
        if opts.json_schema:
            config.response_mime_type = "application/json"
            config.response_json_schema = opts.json_schema
        if stream:
            chunks: list[gtypes.GenerateContentResponse] = []
            async for c in await self.client.aio.models.generate_content_stream(
                model=model, contents=convo, config=config
            ):
                chunks.append(c)
                for candidate in c.candidates or []:
                    shown = candidate.content.parts if candidate.content and candidate.content.parts else []
                    self.partial += "".join(p.text or "" for p in shown if not p.thought)
        else:
            chunks = [await self.client.aio.models.generate_content(model=model, contents=convo, config=config)]
        model_parts: list[gtypes.Part] = []
        finish = ""
        usage: gtypes.GenerateContentResponseUsageMetadata | None = None
        for chunk in chunks:
            usage = chunk.usage_metadata or usage
            if chunk.prompt_feedback and chunk.prompt_feedback.block_reason:
                finish = "content_filter"
            for candidate in chunk.candidates or []:
                if candidate.content and candidate.content.parts:
                    model_parts.extend(candidate.content.parts)
                if candidate.finish_reason:
                    finish = str(candidate.finish_reason.value)
        convo.append(gtypes.Content(role="model", parts=model_parts))
        calls = [
            ToolCall(p.function_call.id or "", p.function_call.name or "", dict(p.function_call.args or {}))
            for p in model_parts
            if p.function_call
        ]
        stop = {"STOP": "end", "MAX_TOKENS": "length", "SAFETY": "content_filter"}.get(finish, finish)
        if calls and stop == "end":
            stop = "tool_calls"
        thoughts = usage.thoughts_token_count or 0 if usage else 0
        return Reply(
            text="".join(p.text or "" for p in model_parts if not p.thought),
            reasoning="".join(p.text or "" for p in model_parts if p.thought),
            tool_calls=calls,
            stop=stop,
            usage={
                "input": usage.prompt_token_count,
                "output": (usage.candidates_token_count or 0) + thoughts,
                "cached": usage.cached_content_token_count or 0,
                "reasoning": thoughts,
            }
            if usage
            else {},
            raw=model_parts,
        )

    async def close(self) -> None:
        await self.client.aio.aclose()


DRIVERS: dict[str, type[OpenAIChatDriver | ResponsesDriver | AnthropicDriver | GeminiDriver]] = {
    "openai_chat": OpenAIChatDriver,
    "openai_responses": ResponsesDriver,
    "anthropic": AnthropicDriver,
    "gemini": GeminiDriver,
}
