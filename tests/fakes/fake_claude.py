"""A fake Anthropic Messages API, faked at the HTTP layer only (the real SDK and instructor run).

It answers `POST /v1/messages` the way Claude answers a forced tool call: it reads the
`<vocabulary>` block and the `Write between N and M items.` line of the prompt (see
docs/CONTRACTS.md) and returns a valid `tool_use` for the requested tool, with usage numbers
that follow prompt caching.

    fake = FakeClaude()
    llm = InstructorClaude(fake.client(max_retries=2), model="claude-sonnet-4-5")   # in-process
    settings-driven code: make_llm(settings, api_key="test-key", http_client=fake.http_client())
    subprocesses / CLI:   with fake.serve() as url: env ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY=x

Faults are scripted; each scripted entry answers one request, in order, before normal answers:

    fake.script(status=429, headers={"retry-after": "0"})   # rate limited once
    fake.script(status=529, times=3)                        # overloaded three times
    fake.script(status=401)                                 # bad key
    fake.script(invalid=True)                               # fails validation (1 example per item)
    fake.script(truncated=True)                             # stop_reason "max_tokens", partial input
    fake.script(answer=[{...item...}])                      # a custom tool input (list of items or dict)
    fake.script(error=httpx2.ConnectError("down"))          # a transport error
    fake.script(invalid=True, match="Category: cultural")   # only a request whose prompt contains this

Faults that need a real socket (`serve()` only; in-process they become the matching httpx2 error):

    fake.script(reset=True)                                 # the connection is reset (TCP RST), no answer
    fake.script(delay=5)                                    # a stalled answer: the client's timeout fires

Error responses carry `retry-after-ms: 1` unless `headers` override it, so the SDK's back-off
takes a millisecond (`retry-after: 0` alone would fall back to its 0.5 s exponential back-off).
A header given as None is left out: `headers={"retry-after": "1", "retry-after-ms": None}`
makes the SDK wait the standard `retry-after` second. `arrivals` holds each request's
`time.monotonic()` arrival, in the order of `requests`.

Usage model: tokens ~ ASCII characters / 4 plus one per other character. When a system block
carries `cache_control`, the prefix (tools + system) is written to the cache on the first
request with that prefix and model (`cache_creation_input_tokens`) and read on later ones
(`cache_read_input_tokens`); the messages are `input_tokens`. `min_cache_tokens` mimics the
API's minimum cacheable prefix (1024 for Sonnet); it is 0 by default so small test prompts cache.

Thread safe: Step Functions' Map runs batches in parallel threads against one fake.
`requests` holds every request body received (scripted or not), `usages` the usage of every
200 answer, in arrival order.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import httpx2

_VOCAB_BLOCK = re.compile(r"^<vocabulary>[ \t]*\n(.*?)^</vocabulary>[ \t]*$", re.S | re.M)
_TARGET_LINE = re.compile(r"Write between (\d+) and (\d+) items\.")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def estimate_tokens(text: str) -> int:
    """The fake's tokenizer: ASCII characters / 4 plus one token per other character."""
    ascii_chars = sum(1 for c in text if ord(c) < 128)
    return max(1, ascii_chars // 4 + (len(text) - ascii_chars))


@dataclass
class Scripted:
    """One scripted answer; see `FakeClaude.script`."""

    status: int = 200
    headers: dict[str, str | None] = field(default_factory=dict)
    body: Any = None
    invalid: bool = False
    truncated: bool = False
    answer: Any = None
    error: Exception | None = None
    match: str | None = None
    delay: float = 0.0
    reset: bool = False


class ConnectionReset(httpx2.ReadError):
    """A scripted reset: `serve()` answers it with a TCP RST, in-process it is this read error."""


class FakeClaude:
    """A scriptable stand-in for `POST /v1/messages`; use as an `httpx2.MockTransport` handler."""

    def __init__(self, *, min_cache_tokens: int = 0, latency_s: float = 0.0) -> None:
        self.min_cache_tokens = min_cache_tokens
        self.latency_s = latency_s
        self.requests: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        self.usages: list[dict[str, int]] = []
        self._script: list[Scripted] = []
        self._cached_prefixes: set[str] = set()
        self._lock = threading.Lock()
        self._ids = 0
        # Default answers for other tools, by tool name: answer(user_text) -> tool input
        # (tests.fakes.fake_content answers Stage 2's ConversationBatch and StoryBatch).
        self.tool_answers: dict[str, Callable[[str], dict[str, Any]]] = {}

    # -- wiring ---------------------------------------------------------------------------------

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self.handle)

    def http_client(self) -> httpx2.Client:
        return httpx2.Client(transport=self.transport())

    def client(self, *, max_retries: int = 2, **kwargs: Any) -> anthropic.Anthropic:
        """A real `anthropic.Anthropic` whose HTTP goes to this fake."""
        kwargs.setdefault("api_key", "test-key")
        return anthropic.Anthropic(http_client=self.http_client(), max_retries=max_retries, **kwargs)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve the fake on 127.0.0.1 for code that only takes `ANTHROPIC_BASE_URL`; yields that URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                content = self.rfile.read(int(self.headers.get("content-length") or 0))
                request = httpx2.Request("POST", f"http://fake{self.path}", content=content)
                try:
                    response = fake.handle(request)
                except ConnectionReset:
                    # SO_LINGER 0: close() sends RST instead of FIN, as a crashed proxy or load balancer does
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                except httpx2.TransportError:
                    self.close_connection = True  # drop the connection: the client sees a transport error
                    return
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            def log_message(self, *args: Any) -> None:
                pass

        server = _LoopbackServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()

    # -- scripting ------------------------------------------------------------------------------

    def script(
        self,
        *,
        status: int = 200,
        headers: dict[str, str | None] | None = None,
        body: Any = None,
        invalid: bool = False,
        truncated: bool = False,
        answer: Any = None,
        error: Exception | None = None,
        match: str | None = None,
        delay: float = 0.0,
        reset: bool = False,
        times: int = 1,
    ) -> FakeClaude:
        """Queue `times` scripted answers; returns self so calls chain.

        status: an HTTP error status (JSON error body in Anthropic's shape unless `body` is given).
        invalid / truncated / answer: a 200 answer that fails validation / stops at max_tokens /
        carries this tool input (a list of items or the whole `{"items": [...]}` dict).
        error: an exception the transport raises (`httpx2.ConnectError`, `httpx2.ReadTimeout`).
        match: only a request whose system or user text contains this string takes the entry.
        delay: seconds to sleep before answering (longer than the client's timeout: a stalled answer).
        reset: reset the connection instead of answering.
        """
        entry = Scripted(status, headers or {}, body, invalid, truncated, answer, error, match, delay, reset)
        with self._lock:
            self._script.extend(Scripted(**vars(entry)) for _ in range(times))
        return self

    def requests_matching(self, text: str) -> list[dict[str, Any]]:
        """The requests whose system or user text contains `text` (e.g. `"Category: cultural\n"`)."""
        with self._lock:
            received = list(self.requests)
        return [body for body in received if text in _system_text(body) + "\n" + _user_text(body)]

    @property
    def pending(self) -> int:
        """Scripted entries not consumed yet."""
        with self._lock:
            return len(self._script)

    # -- the API --------------------------------------------------------------------------------

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        prompt = _system_text(body) + "\n" + _user_text(body)
        with self._lock:
            self.requests.append(body)
            self.arrivals.append(time.monotonic())
            entry = next((s for s in self._script if s.match is None or s.match in prompt), None)
            if entry is not None:
                self._script.remove(entry)
        entry = entry or Scripted()
        if entry.delay or self.latency_s:
            time.sleep(entry.delay or self.latency_s)
        if entry.reset:
            raise ConnectionReset("connection reset by peer (scripted)")
        if entry.error is not None:
            raise entry.error
        if entry.status != 200:
            return self._error(entry)
        if not request.url.path.endswith("/v1/messages"):
            return self._error(Scripted(status=404, body=_error_body(404, f"fake: no route {request.url.path}")))
        return self._answer(body, entry)

    def _error(self, entry: Scripted) -> httpx2.Response:
        merged = {"retry-after-ms": "1", "request-id": "req_fake", **entry.headers}
        headers = {name: value for name, value in merged.items() if value is not None}
        payload = entry.body if entry.body is not None else _error_body(entry.status)
        return httpx2.Response(entry.status, headers=headers, json=payload)

    def _answer(self, body: dict[str, Any], entry: Scripted) -> httpx2.Response:
        tools = body.get("tools") or [{"name": "LearningItemBatch"}]
        tool_name = (body.get("tool_choice") or {}).get("name") or tools[0]["name"]
        user = _user_text(body)
        words = _vocabulary(user)
        stop_reason = "tool_use"
        if entry.answer is not None:
            tool_input = entry.answer if isinstance(entry.answer, dict) else {"items": entry.answer}
        elif tool_name in self.tool_answers and not entry.truncated:
            tool_input = self.tool_answers[tool_name](user)
        elif not words:
            return self._error(Scripted(status=400, body=_error_body(400, "fake: no <vocabulary> block")))
        else:
            low, high = _targets(user, len(words))
            items = make_items(words, min(high, max(low, len(words))))
            if entry.invalid:
                for item in items:
                    item["examples"] = item["examples"][:1]
            if entry.truncated:
                stop_reason = "max_tokens"
                items = [{"title": items[0]["title"], "explanation": items[0]["explanation"][:10]}]
            tool_input = {"items": items}
        usage = self._usage(body, tool_input, truncated=stop_reason == "max_tokens")
        with self._lock:
            self._ids += 1
            message_id = f"msg_fake_{self._ids:06d}"
            self.usages.append(usage)
        message = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-fake"),
            "content": [{"type": "tool_use", "id": f"toolu_{message_id}", "name": tool_name, "input": tool_input}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        return httpx2.Response(200, headers={"request-id": f"req_{message_id}"}, json=message)

    def _cache_lookup(self, key: str) -> bool:
        """Whether a request with this cacheable prefix reads the cache (else it writes it). Called under the lock.

        Here the first request writes and every later one reads; `bench.fake_anthropic` adds time (TTL, and a
        write becoming visible only when its answer starts).
        """
        hit = key in self._cached_prefixes
        self._cached_prefixes.add(key)
        return hit

    def _usage(self, body: dict[str, Any], tool_input: Any, *, truncated: bool) -> dict[str, int]:
        system = body.get("system") or []
        prefix = json.dumps([body.get("tools"), system], sort_keys=True, ensure_ascii=False)
        prefix_tokens = estimate_tokens(prefix)
        input_tokens = estimate_tokens(json.dumps(body.get("messages"), ensure_ascii=False))
        cache_write = cache_read = 0
        cacheable = isinstance(system, list) and any("cache_control" in block for block in system)
        if cacheable and prefix_tokens >= self.min_cache_tokens:
            key = hashlib.sha256(f"{body.get('model')}\x00{prefix}".encode()).hexdigest()
            with self._lock:
                hit = self._cache_lookup(key)
            cache_read, cache_write = (prefix_tokens, 0) if hit else (0, prefix_tokens)
        else:
            input_tokens += prefix_tokens
        output_tokens = estimate_tokens(json.dumps(tool_input, ensure_ascii=False))
        if truncated:
            output_tokens = int(body.get("max_tokens", output_tokens))
        return {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
        }


class _LoopbackServer(ThreadingHTTPServer):
    """A threading server whose listen backlog takes a parallel Map's burst of connections (the default is 5)."""

    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on a stalled answer closed its socket: expected, not news


def make_items(words: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """`count` valid items; item i cites words i, i+count, i+2*count (1-3 words) with 2 examples."""
    items = []
    for i in range(count):
        cited = words[i::count][:3] or [words[i % len(words)]]
        first = cited[0]
        examples = [
            {
                "text": f"{first['word']} ({n})",
                "romanization": first.get("romanization"),
                "translation": f"{first.get('definition') or first['word']} (example {n})",
            }
            for n in (1, 2)
        ]
        items.append(
            {
                "title": f"Using {first['word']} #{i + 1}",
                "explanation": f"How to use {', '.join(w['word'] for w in cited)}.",
                "examples": examples,
                "source_words": [w["word"] for w in cited],
            }
        )
    return items


def _error_body(status: int, message: str | None = None) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message or f"fake {kind} ({status})"}}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def _system_text(body: dict[str, Any]) -> str:
    return _text_of(body.get("system"))


def _user_text(body: dict[str, Any]) -> str:
    """The last user message holding the vocabulary (re-asks end with a tool_result instead)."""
    texts = [_text_of(m.get("content")) for m in body.get("messages", []) if m.get("role") == "user"]
    return next((t for t in reversed(texts) if "<vocabulary>" in t), texts[-1] if texts else "")


def _vocabulary(user: str) -> list[dict[str, Any]]:
    match = _VOCAB_BLOCK.search(user)
    if not match:
        return []
    return [json.loads(line) for line in match.group(1).splitlines() if line.strip()]


def _targets(user: str, word_count: int) -> tuple[int, int]:
    match = _TARGET_LINE.search(user)
    return (int(match.group(1)), int(match.group(2))) if match else (1, max(1, word_count))
