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
    fake.script(status=529, warm_up=True)                   # only a prompt-cache warm-up request
    fake.script(batch_result="expired", match="Category: cultural")  # a Message Batch request (see below)

Faults that need a real socket (`serve()` only; in-process they become the matching httpx2 error):

    fake.script(reset=True)                                 # the connection is reset (TCP RST), no answer
    fake.script(delay=5)                                    # a stalled answer: the client's timeout fires

Error responses carry `retry-after-ms: 1` unless `headers` override it, so the SDK's back-off
takes a millisecond (`retry-after: 0` alone would fall back to its 0.5 s exponential back-off).
A header given as None is left out: `headers={"retry-after": "1", "retry-after-ms": None}`
makes the SDK wait the standard `retry-after` second. `arrivals` holds each request's
`time.monotonic()` arrival, in the order of `requests`.

Usage model: tokens ~ ASCII characters / 4 plus one per other character, counted per block
(each tool, each system block, each message block). Prompt caching as the API does it: the prompt
is tools -> system -> messages, and every block carrying `cache_control` is a breakpoint whose
cache key is the model plus the exact bytes of every block up to it (plus `tool_choice` for a
breakpoint in the messages: changing it invalidates message-level cache). A request reads the
longest live prefix (`cache_read_input_tokens`), writes the rest up to its last breakpoint
(`cache_creation_input_tokens`) and pays the remainder as `input_tokens`. A prefix shorter than
`min_cache_tokens` is never cached (0 by default so small test prompts cache; None = the model's
minimum, `havachat.prompts.min_cacheable_tokens`). An entry becomes readable only once the request
that wrote it is answered: requests in flight together each write it.
An answer longer than `max_tokens` is cut off there (`stop_reason` "max_tokens").

Thread safe: Step Functions' Map runs batches in parallel threads against one fake.
`requests` holds every request body received (scripted or not), `usages` the usage of every
200 answer, in arrival order. Prompt-cache warm-ups (a prompt that ends at its last cache
breakpoint, `max_tokens` 1: see `havachat.pipeline.warm`) are kept apart in `warm_ups` and
`warm_up_usages`, and take only the scripted entries made with `warm_up=True`.

Message Batches (`POST /v1/messages/batches`, `GET /v1/messages/batches/{id}`, `GET` its `results_url`
as JSONL): creation is validated as the API does (1 to 100,000 requests, at most 256 MB, each `custom_id`
unique and matching `^[a-zA-Z0-9_-]{1,64}$`, each `params` a Messages request with model, max_tokens
and messages, no streaming); a batch is `in_progress` until it has been retrieved `batch_polls` times,
then `ended`, and each request is answered then through the same code as `POST /v1/messages` (caching,
usage, truncation, `invalid`/`truncated`/`answer` scripts). Batch requests take only the scripted
entries made with `in_batch=True` (or with `batch_result`): `batch_result` "errored", "expired" or
"canceled" ends the request so; a `status` other than 200 ends it errored with that error type.
`batch_requests` holds every batch request's params, `batch_usages` the usage of each succeeded one.
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
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import httpx2

_VOCAB_BLOCK = re.compile(r"^<vocabulary>[ \t]*\n(.*?)^</vocabulary>[ \t]*$", re.S | re.M)
_TARGET_LINE = re.compile(r"Write between (\d+) and (\d+) items\.")
_NO_GRAMMAR = 'Entries of kind "grammar" are for other categories'
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_BATCH_PATH = re.compile(r"/v1/messages/batches/(?P<id>[A-Za-z0-9_]+)(?:/(?P<action>results|cancel))?$")
MAX_BATCH_REQUESTS = 100_000
MAX_BATCH_BYTES = 256 * 1024 * 1024
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
    warm_up: bool = False
    in_batch: bool = False
    batch_result: str | None = None


@dataclass
class _MessageBatch:
    id: str
    requests: list[dict[str, Any]]
    created_at: datetime
    polls: int = 0
    results: list[dict[str, Any]] | None = None  # set when it ends
    canceled_at: datetime | None = None


class ConnectionReset(httpx2.ReadError):
    """A scripted reset: `serve()` answers it with a TCP RST, in-process it is this read error."""


class FakeClaude:
    """A scriptable stand-in for `POST /v1/messages`; use as an `httpx2.MockTransport` handler."""

    def __init__(self, *, min_cache_tokens: int | None = 0, latency_s: float = 0.0, batch_polls: int = 1) -> None:
        self.min_cache_tokens = min_cache_tokens
        self.latency_s = latency_s
        self.batch_polls = batch_polls
        self.batch_requests: list[dict[str, Any]] = []
        self.batch_usages: list[dict[str, int]] = []
        self._batches: dict[str, _MessageBatch] = {}
        self.requests: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        self.usages: list[dict[str, int]] = []
        self.warm_ups: list[dict[str, Any]] = []
        self.warm_up_usages: list[dict[str, int]] = []
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
            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                content = self.rfile.read(int(self.headers.get("content-length") or 0))
                host = f"127.0.0.1:{self.server.server_address[1]}"
                request = httpx2.Request(self.command, f"http://{host}{self.path}", content=content)
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
        warm_up: bool = False,
        in_batch: bool = False,
        batch_result: str | None = None,
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
        warm_up: the entry answers a prompt-cache warm-up request instead of a normal one.
        in_batch: the entry answers a request of a Message Batch instead of a normal one.
        batch_result: "errored", "expired" or "canceled": a Message Batch request ends so (implies `in_batch`).
        """
        in_batch = in_batch or batch_result is not None
        entry = Scripted(
            status, headers or {}, body, invalid, truncated, answer, error, match, delay, reset, warm_up, in_batch
        )
        entry.batch_result = batch_result
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
        if request.url.path.startswith("/v1/messages/batches"):
            return self._message_batches(request)
        body = json.loads(request.content)
        warm_up = is_warm_up(body)
        with self._lock:
            if warm_up:
                self.warm_ups.append(body)
            else:
                self.requests.append(body)
                self.arrivals.append(time.monotonic())
        entry = self._take(body, warm_up=warm_up, in_batch=False)
        if entry.delay:
            time.sleep(entry.delay)
        if entry.reset:
            raise ConnectionReset("connection reset by peer (scripted)")
        if entry.error is not None:
            raise entry.error
        if entry.status != 200:
            return self._error(entry)
        if not request.url.path.endswith("/v1/messages"):
            return self._error(Scripted(status=404, body=_error_body(404, f"fake: no route {request.url.path}")))
        return self._answer(body, entry)

    def _take(self, body: dict[str, Any], *, warm_up: bool, in_batch: bool) -> Scripted:
        """The first scripted entry for this kind of request whose `match` the prompt contains, else a normal one."""
        prompt = _system_text(body) + "\n" + _user_text(body)
        with self._lock:
            entry = next(
                (
                    s
                    for s in self._script
                    if s.warm_up == warm_up and s.in_batch == in_batch and (s.match is None or s.match in prompt)
                ),
                None,
            )
            if entry is not None:
                self._script.remove(entry)
        return entry or Scripted()

    # -- Message Batches ------------------------------------------------------------------------

    def _message_batches(self, request: httpx2.Request) -> httpx2.Response:
        base = f"{request.url.scheme}://{request.url.netloc.decode()}"
        if request.method == "POST" and request.url.path == "/v1/messages/batches":
            return self._create_batch(request.content)
        found = _BATCH_PATH.search(request.url.path)
        cancel = found is not None and found.group("action") == "cancel"
        method = "POST" if cancel else "GET"
        with self._lock:
            batch = self._batches.get(found.group("id")) if found and request.method == method else None
        if found is None or batch is None:
            return self._error(Scripted(status=404, body=_error_body(404, f"fake: no batch at {request.url.path}")))
        if cancel:
            return self._cancel_batch(batch, base)
        if found.group("action") == "results":
            if batch.results is None:
                return self._error(Scripted(status=400, body=_error_body(400, "the batch has not ended")))
            lines = "".join(json.dumps(result) + "\n" for result in batch.results)
            return httpx2.Response(200, headers={"content-type": "application/binary"}, content=lines.encode())
        with self._lock:
            batch.polls += 1
            ending = batch.results is None and batch.polls >= self.batch_polls
        if ending:
            batch.results = [self._batch_result(entry) for entry in batch.requests]
        return httpx2.Response(200, json=self._batch_json(batch, base))

    def _create_batch(self, content: bytes) -> httpx2.Response:
        def rejected(message: str) -> httpx2.Response:
            return self._error(Scripted(status=400, body=_error_body(400, message)))

        if len(content) > MAX_BATCH_BYTES:
            return self._error(Scripted(status=413, body=_error_body(413, "the batch is over 256 MB")))
        requests = json.loads(content).get("requests")
        if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_BATCH_REQUESTS:
            return rejected(f"requests: between 1 and {MAX_BATCH_REQUESTS:,} requests")
        seen: set[str] = set()
        for n, entry in enumerate(requests):
            custom_id, params = entry.get("custom_id"), entry.get("params")
            if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
                return rejected(f"requests.{n}.custom_id: must match ^[a-zA-Z0-9_-]{{1,64}}$")
            if custom_id in seen:
                return rejected(f"requests.{n}.custom_id: {custom_id} is not unique")
            seen.add(custom_id)
            if not isinstance(params, dict) or not {"model", "max_tokens", "messages"} <= params.keys():
                return rejected(f"requests.{n}.params: model, max_tokens and messages are required")
            if params.get("stream"):
                return rejected(f"requests.{n}.params.stream: streaming is not supported in a batch")
        with self._lock:
            self._ids += 1
            batch = _MessageBatch(f"msgbatch_fake_{self._ids:06d}", requests, datetime.now(UTC))
            self._batches[batch.id] = batch
            self.batch_requests.extend(entry["params"] for entry in requests)
        return httpx2.Response(200, json=self._batch_json(batch, "https://api.anthropic.com"))

    def _cancel_batch(self, batch: _MessageBatch, base: str) -> httpx2.Response:
        """The API's cancel, allowed "any time before processing ends": the requests not yet answered (here all:
        the fake answers a batch when it ends) end `canceled`; the batch reads `canceling` in this answer and
        `ended` from its next poll. An ended batch cannot be canceled (409)."""
        with self._lock:
            if batch.results is not None:
                return self._error(Scripted(status=409, body=_error_body(409, f"batch {batch.id} has ended")))
            batch.canceled_at = datetime.now(UTC)
            batch.results = [{"custom_id": r["custom_id"], "result": {"type": "canceled"}} for r in batch.requests]
        return httpx2.Response(200, json={**self._batch_json(batch, base), "processing_status": "canceling"})

    def _batch_result(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request's result, answered by the `POST /v1/messages` code (a scripted entry taken first)."""
        params = request["params"]
        entry = self._take(params, warm_up=False, in_batch=True)
        if entry.batch_result in ("expired", "canceled"):
            return {"custom_id": request["custom_id"], "result": {"type": entry.batch_result}}
        if entry.batch_result == "errored" or entry.status != 200:
            status = entry.status if entry.status != 200 else 500
            error = {**_error_body(status), "request_id": "req_fake"}
            return {"custom_id": request["custom_id"], "result": {"type": "errored", "error": error}}
        response = self._answer(params, entry, usages=self.batch_usages)
        if response.status_code != 200:
            error = {**response.json(), "request_id": "req_fake"}
            return {"custom_id": request["custom_id"], "result": {"type": "errored", "error": error}}
        return {"custom_id": request["custom_id"], "result": {"type": "succeeded", "message": response.json()}}

    def _batch_json(self, batch: _MessageBatch, base: str) -> dict[str, Any]:
        results = batch.results
        counts = {"processing": len(batch.requests) if results is None else 0}
        for kind in ("succeeded", "errored", "canceled", "expired"):
            counts[kind] = sum(1 for r in results or [] if r["result"]["type"] == kind)
        ended = results is not None
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": batch.created_at.isoformat(),
            "expires_at": (batch.created_at + timedelta(hours=24)).isoformat(),
            "ended_at": datetime.now(UTC).isoformat() if ended else None,
            "archived_at": None,
            "cancel_initiated_at": batch.canceled_at.isoformat() if batch.canceled_at else None,
            "results_url": f"{base}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    # -- helpers --------------------------------------------------------------------------------

    def _error(self, entry: Scripted) -> httpx2.Response:
        merged = {"retry-after-ms": "1", "request-id": "req_fake", **entry.headers}
        headers = {name: value for name, value in merged.items() if value is not None}
        payload = entry.body if entry.body is not None else _error_body(entry.status)
        return httpx2.Response(entry.status, headers=headers, json=payload)

    def _answer(
        self, body: dict[str, Any], entry: Scripted, *, usages: list[dict[str, int]] | None = None
    ) -> httpx2.Response:
        tools = body.get("tools") or [{"name": "LearningItemBatch"}]
        tool_name = (body.get("tool_choice") or {}).get("name") or tools[0]["name"]
        user = _user_text(body)
        words = _vocabulary(user)
        if _NO_GRAMMAR in user:  # as Claude follows the instruction: grammar points are not cited
            words = [w for w in words if w.get("kind") != "grammar"] or words
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
        if stop_reason != "max_tokens" and estimate_tokens(json.dumps(tool_input, ensure_ascii=False)) > int(
            body.get("max_tokens") or 0
        ):
            stop_reason = "max_tokens"  # longer than max_tokens: cut off, as the API does
            tool_input = {}
        written: list[str] = []
        usage = self._usage(body, tool_input, truncated=stop_reason == "max_tokens", written=written)
        if self.latency_s:
            time.sleep(self.latency_s)
        with self._lock:
            self._cached_prefixes.update(written)  # readable from now on: this answer is out
            self._ids += 1
            message_id = f"msg_fake_{self._ids:06d}"
            if usages is None:
                usages = self.warm_up_usages if is_warm_up(body) else self.usages
            usages.append(usage)
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

    def _cache_lookup(self, key: str, written: list[str]) -> bool:
        """Whether a request reads this prefix's cache entry; on a miss it writes it (`written`). Under the lock.

        Here an entry is readable once the request that wrote it is answered (`_answer` publishes
        `written`); `bench.fake_anthropic` replaces this with time: TTL, visible after the first token.
        """
        if key in self._cached_prefixes:
            return True
        written.append(key)
        return False

    def _usage(self, body: dict[str, Any], tool_input: Any, *, truncated: bool, written: list[str]) -> dict[str, int]:
        blocks = _prompt_blocks(body)
        minimum = self.min_cache_tokens
        if minimum is None:
            from havachat.prompts import min_cacheable_tokens  # here: the bench runs baseline code that lacks it

            minimum = min_cacheable_tokens(str(body.get("model", "")))
        prefix_tokens = 0
        breakpoints: list[tuple[str, int]] = []  # (cache key, prefix tokens) of each cacheable breakpoint
        digest = hashlib.sha256(str(body.get("model")).encode())
        for text, breakpoint, in_messages in blocks:
            prefix_tokens += estimate_tokens(text)
            digest.update(b"\x00" + text.encode())
            if breakpoint and prefix_tokens >= minimum:
                key = digest.copy()
                if in_messages:
                    key.update(json.dumps(body.get("tool_choice"), sort_keys=True).encode())
                breakpoints.append((key.hexdigest(), prefix_tokens))
        with self._lock:
            hits = [tokens for key, tokens in breakpoints if self._cache_lookup(key, written)]
        cache_read = max(hits, default=0)
        cache_write = max(0, max((tokens for _, tokens in breakpoints), default=0) - cache_read)
        output_tokens = estimate_tokens(json.dumps(tool_input, ensure_ascii=False))
        if truncated:
            output_tokens = int(body.get("max_tokens", output_tokens))
        return {
            "input_tokens": prefix_tokens - cache_read - cache_write,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
        }


def is_warm_up(body: dict[str, Any]) -> bool:
    """A prompt-cache warm-up: one output token asked for a prompt that ends at a cache breakpoint."""
    messages = body.get("messages") or [{}]
    content = messages[-1].get("content")
    ends_at_breakpoint = isinstance(content, list) and bool(content) and "cache_control" in content[-1]
    return ends_at_breakpoint and body.get("max_tokens") == 1


def _prompt_blocks(body: dict[str, Any]) -> list[tuple[str, bool, bool]]:
    """The prompt in the API's order (tools, system, messages) as (exact text, is a breakpoint, in messages)."""

    def text(block: Any) -> str:
        plain = {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block
        return json.dumps(plain, sort_keys=True, ensure_ascii=False)

    def marked(block: Any) -> bool:
        return isinstance(block, dict) and "cache_control" in block

    blocks = [(text(tool), marked(tool), False) for tool in body.get("tools") or []]
    system = body.get("system") or []
    for block in [system] if isinstance(system, str) else system:
        blocks.append((text(block), marked(block), False))
    for message in body.get("messages") or []:
        content = message.get("content")
        for block in [content] if isinstance(content, str) else content or []:
            blocks.append((message.get("role", "") + ":" + text(block), marked(block), True))
    return blocks


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
    rows = [json.loads(line) for line in match.group(1).splitlines() if line.strip()]
    return [row if isinstance(row, dict) else {"word": row} for row in rows]  # Stage 2 lists the words alone


def _targets(user: str, word_count: int) -> tuple[int, int]:
    match = _TARGET_LINE.search(user)
    return (int(match.group(1)), int(match.group(2))) if match else (1, max(1, word_count))
