"""Black-box tests of the gateway's WebSocket endpoint /api/v1/ws/{client_id}
(docs/api-contract.md "WebSocket"), against the real gateway binary in front of the ComfyUI
emulator: the connect handshake, ping, client errors, submit over the socket, the per-client
routing of ComfyUI's messages (text and binary previews), the terminal result / execution_error
messages, interrupt, upstream drops and restarts, and the slow-consumer bound.

Every test uses fresh client ids; the emulator is reset by the ``api`` fixture."""
import base64
import contextlib
import json
import os
import socket
import struct
import time
import urllib.parse
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from rest_stack import API, api, empty_save, failing, slow_save, stack, unique, wait_until  # noqa: F401

WAIT = 20.0          # upper bound for anything that should happen "soon"
QUIET = 1.0          # how long "nothing more arrives" is watched

# The message types the gateway sends; anything else (execution_start, execution_cached,
# progress_state, execution_success, execution_interrupted, ...) must not be forwarded.
SERVER_TYPES = {"system", "status", "executing", "progress", "executed", "result", "execution_error", "pong"}
PROMPT_TYPES = {"executing", "progress", "executed", "result", "execution_error"}
TERMINAL = {"result", "execution_error"}


# ------------------------------------------------------------------------------------------
# helpers

def cid(tag="ws"):
    return f"{tag}-{unique()}-{uuid.uuid4().hex[:8]}"


def ws_url(gw, client_id):
    return f"ws://127.0.0.1:{gw.port}{API}/ws/{client_id}"


class Socket:
    """A websockets sync client that keeps everything it received (dicts for text frames,
    bytes for binary frames) in ``log``. The library's receive queue is unbounded, so its
    background thread drains the TCP socket whatever the test thread does."""

    def __init__(self, gw, client_id, expect_connected=True):
        self.client_id = client_id
        # entered as a context manager: websockets 17 deprecates using connect() directly
        self._exit = contextlib.ExitStack()
        self.ws = self._exit.enter_context(connect(ws_url(gw, client_id), max_queue=None, max_size=None,
                                                   open_timeout=10, close_timeout=3))
        self.log = []
        self.hello = None
        if expect_connected:
            self.hello = self.recv()
            assert self.hello["type"] == "system", self.hello
            assert self.hello["data"]["event"] == "connected", self.hello

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._exit.close()

    def recv(self, timeout=WAIT):
        raw = self.ws.recv(timeout=timeout)
        if isinstance(raw, bytes):
            msg = raw
        else:
            msg = json.loads(raw)
            assert isinstance(msg, dict) and isinstance(msg.get("type"), str), raw
        self.log.append(msg)
        return msg

    def send(self, obj):
        self.ws.send(json.dumps(obj))

    def wait_for(self, predicate, timeout=WAIT, what="message"):
        """Receives until predicate(msg) holds; returns that message."""
        deadline = time.monotonic() + timeout
        start = len(self.log)
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                msg = self.recv(left)
            except TimeoutError:
                raise AssertionError(f"{self.client_id}: no {what} within {timeout}s; received since: "
                                     f"{summarize(self.log[start:])}") from None
            if predicate(msg):
                return msg

    def wait_type(self, type_, timeout=WAIT, **data):
        def match(m):
            return (isinstance(m, dict) and m["type"] == type_
                    and all(m.get("data", {}).get(k) == v for k, v in data.items()))
        return self.wait_for(match, timeout, what=f"{type_} {data}")

    def index(self, predicate, start=0):
        """Index in the log of the first message from `start` matching predicate, or None."""
        for i in range(start, len(self.log)):
            if predicate(self.log[i]):
                return i
        return None

    def logged_or_wait(self, predicate, timeout=WAIT, what="message"):
        """Like wait_for, but first looks through what was already received; returns the index."""
        i = self.index(predicate)
        if i is None:
            msg = self.wait_for(predicate, timeout, what)
            i = len(self.log) - 1
            assert self.log[i] is msg
        return i

    def wait_terminal(self, prompt_id, timeout=WAIT):
        return self.wait_for(lambda m: is_prompt_msg(m, prompt_id) and m["type"] in TERMINAL, timeout,
                             what=f"terminal message of {prompt_id}")

    def drain(self, seconds=QUIET):
        """Receives everything for `seconds`; returns what arrived."""
        start = len(self.log)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.recv(left)
            except TimeoutError:
                break
        return self.log[start:]

    def ping_barrier(self, payload=None):
        """Sends a ping and receives until its pong (everything before it stays in the log)."""
        payload = payload if payload is not None else f"barrier-{unique()}"
        self.send({"type": "ping", "data": payload})
        self.wait_for(lambda m: isinstance(m, dict) and m["type"] == "pong" and m.get("data") == payload,
                      what=f"pong {payload}")

    def expect_close(self, timeout=WAIT):
        """Receives until the server closes; returns (close code, messages received meanwhile)."""
        start = len(self.log)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.client_id}: socket not closed within {timeout}s; received "
                                     f"{summarize(self.log[start:])}")
            try:
                self.recv(left)
            except TimeoutError:
                continue
            except ConnectionClosed:
                rcvd = self.ws.protocol.close_rcvd
                return (rcvd.code if rcvd else None), self.log[start:]

    def texts(self):
        return [m for m in self.log if isinstance(m, dict)]

    def binaries(self):
        return [m for m in self.log if isinstance(m, bytes)]


def summarize(messages, limit=40):
    out = []
    for m in messages[-limit:]:
        if isinstance(m, bytes):
            out.append(f"<binary {len(m)} bytes {m[:8].hex()}>")
        else:
            out.append(json.dumps(m)[:400])
    return out


def is_prompt_msg(m, prompt_id):
    return isinstance(m, dict) and m["type"] in PROMPT_TYPES and m.get("data", {}).get("prompt_id") == prompt_id


def is_submitted(m, prompt_id=None):
    return (isinstance(m, dict) and m["type"] == "system" and m["data"].get("event") == "submitted"
            and (prompt_id is None or m["data"].get("prompt_id") == prompt_id))


def sequence(log, prompt_id):
    """The prompt-specific text messages of prompt_id, as (type, node or status) tuples."""
    seq = []
    for m in log:
        if is_submitted(m, prompt_id):
            seq.append(("submitted", None))
        elif is_prompt_msg(m, prompt_id):
            d = m["data"]
            if m["type"] in ("executing", "executed"):
                seq.append((m["type"], d["node"]))
            elif m["type"] == "progress":
                seq.append(("progress", d["value"]))
            elif m["type"] == "result":
                seq.append(("result", d["status"]))
            else:
                seq.append(("execution_error", d.get("node_id")))
    return seq


def assert_known_types_only(sock):
    bad = [m for m in sock.texts() if m["type"] not in SERVER_TYPES]
    assert not bad, f"messages the gateway must not forward: {summarize(bad)}"


def assert_no_foreign_prompt_messages(sock, prompt_ids):
    foreign = [m for m in sock.texts() if m["type"] in PROMPT_TYPES and m["data"].get("prompt_id") not in prompt_ids]
    assert not foreign, f"{sock.client_id} got messages of other prompts: {summarize(foreign)}"


def ws_submit(sock, workflow, **extra):
    """Submits over the socket; returns the `submitted` data."""
    sock.send({"type": "submit", "data": {"workflow": workflow, **extra}})
    msg = sock.wait_for(lambda m: isinstance(m, dict) and m["type"] == "system"
                        and m["data"].get("event") in ("submitted", "error"), what="submitted/error")
    assert msg["data"]["event"] == "submitted", msg
    data = msg["data"]
    assert isinstance(data["prompt_id"], str) and data["prompt_id"], data
    assert isinstance(data["number"], int) and not isinstance(data["number"], bool), data
    assert data["client_id"] == sock.client_id, data
    # submitted comes before any event of the prompt
    earlier = [m for m in sock.log[:sock.log.index(msg)] if is_prompt_msg(m, data["prompt_id"])]
    assert not earlier, f"prompt events before `submitted`: {summarize(earlier)}"
    return data


def ws_error(sock, payload, raw=False):
    """Sends payload (JSON-encoded unless raw) and returns the error object of the system error."""
    sock.ws.send(payload if raw else json.dumps(payload))
    msg = sock.wait_for(lambda m: isinstance(m, dict) and m["type"] == "system", what="system error")
    assert msg["data"].get("event") == "error", msg
    error = msg["data"]["error"]
    assert isinstance(error, dict), msg
    assert isinstance(error.get("code"), str), msg
    assert isinstance(error.get("message"), str) and error["message"], msg
    assert isinstance(error.get("details"), dict), msg
    assert isinstance(error.get("request_id"), str) and error["request_id"], msg
    assert "Traceback" not in json.dumps(msg)
    return error


def assert_status_shape(msg):
    assert msg["type"] == "status", msg
    assert set(msg["data"]) == {"status"}, msg
    assert set(msg["data"]["status"]) == {"exec_info"}, msg
    remaining = msg["data"]["status"]["exec_info"]["queue_remaining"]
    assert isinstance(remaining, int) and remaining >= 0, msg


def parse_preview(frame: bytes):
    """A ComfyUI type-4 frame: >I type, >I metadata length, metadata JSON, image bytes."""
    assert len(frame) > 8, frame
    kind, mlen = struct.unpack(">II", frame[:8])
    assert kind == 4, f"binary frame type {kind}, expected 4 (preview with metadata): {frame[:16].hex()}"
    meta = json.loads(frame[8:8 + mlen])
    image = frame[8 + mlen:]
    return meta, image


def rest_images(api, prompt_id):
    r = api.client.get(f"{API}/workflows/{prompt_id}/images")
    assert r.status_code == 200, r.text
    return r.json()


def wait_upstream_connected(gw, timeout=WAIT):
    def probe():
        with Socket(gw, cid("probe")) as s:
            return s.hello["data"]["upstream"] == "connected"
    wait_until(probe, timeout, interval=0.1, message="gateway upstream connected")


@pytest.fixture
def ws_api(api):
    """The module's stack, emulator reset, with the gateway's upstream socket connected."""
    wait_upstream_connected(api.gw)
    return api


# ------------------------------------------------------------------------------------------
# connect, ping, client errors

def test_connect_sends_connected_then_last_status(ws_api):
    client_id = cid("hello")
    with Socket(ws_api.gw, client_id) as s:
        assert s.hello == {"type": "system",
                           "data": {"event": "connected", "client_id": client_id, "upstream": "connected"}}
        # The gateway has seen ComfyUI's status (sent on every upstream connect): it comes next.
        second = s.recv(timeout=5)
        assert_status_shape(second)


@pytest.mark.parametrize("client_id", ["c" * 256, "\u00e9" * 128], ids=["256-ascii", "128-e-acute=256-bytes"])
def test_client_id_of_256_bytes_is_accepted(ws_api, client_id):
    with Socket(ws_api.gw, urllib.parse.quote(client_id, safe="")) as s:
        assert s.hello["data"]["client_id"] == client_id
        s.ping_barrier()


@pytest.mark.parametrize("client_id", ["c" * 257, "\u00e9" * 129], ids=["257-ascii", "129-e-acute=258-bytes"])
def test_client_id_longer_than_256_bytes_is_refused_with_1008(ws_api, client_id):
    with Socket(ws_api.gw, urllib.parse.quote(client_id, safe=""), expect_connected=False) as s:
        first = s.recv()
        assert first["type"] == "system" and first["data"].get("event") == "error", first
        assert first["data"]["error"]["code"] == "WEBSOCKET_ERROR", first
        code, rest = s.expect_close()
        assert code == 1008, (code, summarize(rest))
        assert not [m for m in rest if not (isinstance(m, dict) and m["type"] == "status")], summarize(rest)


@pytest.mark.parametrize("data", [{"a": [1, 2, {"b": None}]}, "text", 42, None, [1, "x"], True])
def test_ping_answers_pong_with_same_data(ws_api, data):
    with Socket(ws_api.gw, cid("ping")) as s:
        s.send({"type": "ping", "data": data})
        pong = s.wait_type("pong")
        assert pong == {"type": "pong", "data": data}


BAD_TEXT = {
    "not json": "hello there",
    "truncated json": '{"type": "ping", ',
    "json array": "[1, 2, 3]",
    "json string": '"ping"',
    "no type": '{"data": {}}',
    "type not a string": '{"type": 5, "data": {}}',
    "type null": '{"type": null}',
    "unknown type": '{"type": "launch_missiles", "data": {}}',
}


@pytest.mark.parametrize("name", list(BAD_TEXT))
def test_bad_text_message_is_websocket_error_and_socket_stays_open(ws_api, name):
    with Socket(ws_api.gw, cid("bad")) as s:
        error = ws_error(s, BAD_TEXT[name], raw=True)
        assert error["code"] == "WEBSOCKET_ERROR", error
        s.ping_barrier()          # still open and answering
        error = ws_error(s, BAD_TEXT[name], raw=True)   # and again
        assert error["code"] == "WEBSOCKET_ERROR", error
        s.ping_barrier()


def test_binary_message_is_websocket_error_then_close_1003(ws_api):
    with Socket(ws_api.gw, cid("bin")) as s:
        s.ws.send(b"\x00\x01binary")
        msg = s.wait_for(lambda m: isinstance(m, dict) and m["type"] == "system", what="system error")
        assert msg["data"].get("event") == "error", msg
        assert msg["data"]["error"]["code"] == "WEBSOCKET_ERROR", msg
        code, rest = s.expect_close()
        assert code == 1003, (code, summarize(rest))


# ------------------------------------------------------------------------------------------
# submit over the socket: errors

@pytest.mark.parametrize("data,field", [
    ({}, "workflow"),
    ({"workflow_": {}}, "workflow"),
    ({"extra_data": {}}, "workflow"),
    ("not an object", None),
    ([1, 2], None),
    (None, None),
    ("<absent>", None),
    ({"workflow": "WORKFLOW", "extra_data": "text"}, "extra_data"),
    ({"workflow": "WORKFLOW", "extra_data": [1]}, "extra_data"),
    ({"workflow": "WORKFLOW", "front": "yes"}, "front"),
    ({"workflow": "WORKFLOW", "front": 1}, "front"),
])
def test_submit_schema_errors_are_invalid_request(ws_api, data, field):
    def fill(d):
        if isinstance(d, dict) and d.get("workflow") == "WORKFLOW":
            return {**d, "workflow": empty_save()}
        return d
    message = {"type": "submit"} if data == "<absent>" else {"type": "submit", "data": fill(data)}
    before = ws_api.emu.prompt_counter()
    with Socket(ws_api.gw, cid("subbad")) as s:
        error = ws_error(s, message)
        assert error["code"] == "INVALID_REQUEST", error
        fields = error["details"].get("fields")
        assert isinstance(fields, list) and fields, error
        for f in fields:
            assert isinstance(f, dict) and isinstance(f.get("field"), str) and isinstance(f.get("message"), str), error
        if field:
            assert field in [f["field"] for f in fields], error
        s.ping_barrier()
    assert ws_api.emu.prompt_counter() == before + 1, "an invalid submit reached ComfyUI"


def test_submit_dangling_link_is_workflow_validation_error(ws_api):
    workflow = {"1": {"class_type": "SaveImage", "inputs": {"images": ["99", 0], "filename_prefix": f"d{unique()}"}}}
    with Socket(ws_api.gw, cid("dangle")) as s:
        error = ws_error(s, {"type": "submit", "data": {"workflow": workflow}})
        assert error["code"] == "WORKFLOW_VALIDATION_ERROR", error
        assert "1" in json.dumps(error["details"]), error
        s.ping_barrier()


def test_submit_unknown_class_type_is_workflow_validation_error_with_comfy_details(ws_api):
    workflow = empty_save()
    workflow["3"] = {"class_type": f"NoSuchNode{unique()}", "inputs": {"images": ["1", 0]}}
    direct = ws_api.emu.submit(workflow)
    assert direct.status_code == 400, direct.text
    with Socket(ws_api.gw, cid("unknown")) as s:
        error = ws_error(s, {"type": "submit", "data": {"workflow": workflow}})
        assert error["code"] == "WORKFLOW_VALIDATION_ERROR", error
        assert error["details"]["error"] == direct.json()["error"], error
        assert error["details"]["node_errors"] == direct.json()["node_errors"], error
        s.ping_barrier()
        # and the socket still submits fine afterwards
        sub = ws_submit(s, empty_save())
        assert s.wait_terminal(sub["prompt_id"])["type"] == "result"


# ------------------------------------------------------------------------------------------
# runs: sequences, results, routing

def _check_result_against_rest(api, result, prompt_id):
    data = result["data"]
    assert result["type"] == "result", result
    assert data["prompt_id"] == prompt_id
    assert data["status"] == "success", result
    hist = api.wait_status(prompt_id, "success")
    assert data["outputs"] == hist["outputs"], (data["outputs"], hist["outputs"])
    rest = rest_images(api, prompt_id)
    assert data["images"] == rest["images"], (data["images"], rest["images"])
    assert data["images"], result
    for image in data["images"]:
        assert set(image) == {"node_id", "filename", "subfolder", "type", "url"}, image
        r = httpx.get(image["url"], timeout=30)
        assert r.status_code == 200, (image, r.status_code, r.text[:300])
        assert r.content.startswith(b"\x89PNG"), image


EXPECTED_SIMPLE = [("executing", "1"), ("executing", "2"), ("executed", "2"), ("executing", None), ("result", "success")]


def test_full_sequence_of_a_run_submitted_over_ws(ws_api):
    with Socket(ws_api.gw, cid("seq")) as s:
        sub = ws_submit(s, empty_save(prefix=f"wsseq{unique()}"))
        pid = sub["prompt_id"]
        result = s.wait_terminal(pid)
        s.ping_barrier()
        assert sequence(s.log, pid) == [("submitted", None)] + EXPECTED_SIMPLE, summarize(s.log)
        # every other message is a status (they may interleave anywhere)
        others = [m for m in s.texts() if not is_prompt_msg(m, pid) and not is_submitted(m)
                  and m["type"] != "pong" and m is not s.hello]
        for m in others:
            assert_status_shape(m)
        assert not s.binaries()
        executing = [m["data"] for m in s.texts() if is_prompt_msg(m, pid) and m["type"] == "executing"]
        for d in executing[:-1]:
            assert d["node"] in ("1", "2") and d.get("display_node", d["node"]) == d["node"], d
        executed = next(m["data"] for m in s.texts() if is_prompt_msg(m, pid) and m["type"] == "executed")
        assert set(executed) >= {"node", "prompt_id", "output"}, executed
        assert executed["output"]["images"][0]["filename"].startswith("wsseq"), executed
        _check_result_against_rest(ws_api, result, pid)
        assert result["data"]["outputs"]["2"] == executed["output"], (result, executed)
        assert_known_types_only(s)
        rest = s.drain(0.3)
        assert all(isinstance(m, dict) and m["type"] == "status" for m in rest), summarize(rest)


def test_full_sequence_of_a_run_submitted_over_rest_with_same_client_id(ws_api):
    client_id = cid("restseq")
    with Socket(ws_api.gw, client_id) as s:
        body = ws_api.submit_ok(empty_save(), client_id=client_id)
        assert body["client_id"] == client_id
        pid = body["prompt_id"]
        result = s.wait_terminal(pid)
        s.ping_barrier()
        assert sequence(s.log, pid) == EXPECTED_SIMPLE, summarize(s.log)
        assert not any(is_submitted(m) for m in s.log), summarize(s.log)
        _check_result_against_rest(ws_api, result, pid)
        assert_known_types_only(s)


def test_progress_and_preview_frames_go_to_the_prompts_client_only(ws_api):
    steps = 4
    owner, other = cid("owner"), cid("other")
    workflow = slow_save(steps=steps, delay_ms=20)
    workflow["2"]["inputs"]["preview"] = True
    with Socket(ws_api.gw, owner) as a, Socket(ws_api.gw, other) as b:
        sub = ws_submit(a, workflow)
        pid = sub["prompt_id"]
        result = a.wait_terminal(pid)
        assert result["type"] == "result" and result["data"]["status"] == "success", result
        a.ping_barrier()
        b.ping_barrier()
        progress = [m["data"] for m in a.texts() if is_prompt_msg(m, pid) and m["type"] == "progress"]
        assert [p["value"] for p in progress] == list(range(1, steps + 1)), progress
        for p in progress:
            assert p["max"] == steps and p["node"] == "2" and p["prompt_id"] == pid, p
        previews = a.binaries()
        assert len(previews) == steps, f"{len(previews)} binary frames for {steps} preview steps"
        for frame in previews:
            meta, image = parse_preview(frame)
            assert meta.get("prompt_id") == pid, meta
            assert image[:2] == b"\xff\xd8", image[:16].hex()
        seq = sequence(a.log, pid)
        assert seq[0] == ("submitted", None) and seq[-2:] == [("executing", None), ("result", "success")], seq
        assert_known_types_only(a)
        # the other client id: no binary frame, nothing of the prompt, only status/pong
        assert not b.binaries(), f"{len(b.binaries())} preview frames leaked to another client id"
        assert_no_foreign_prompt_messages(b, set())
        assert {m["type"] for m in b.texts()} <= {"system", "status", "pong"}, summarize(b.log)


def test_sockets_sharing_a_client_id_all_get_everything_other_ids_only_status(ws_api):
    shared, other = cid("shared"), cid("other")
    with Socket(ws_api.gw, shared) as a1, Socket(ws_api.gw, shared) as a2, Socket(ws_api.gw, other) as b:
        for sock in (a1, a2, b):
            sock.ping_barrier()  # initial status consumed
        body = ws_api.submit_ok(empty_save(), client_id=shared)
        pid = body["prompt_id"]
        r1, r2 = a1.wait_terminal(pid), a2.wait_terminal(pid)
        assert r1 == r2, (r1, r2)
        assert sequence(a1.log, pid) == sequence(a2.log, pid) == EXPECTED_SIMPLE, (a1.log, a2.log)
        for sock in (a1, a2):
            assert [m for m in sock.texts() if is_prompt_msg(m, pid)] == \
                   [m for m in a1.texts() if is_prompt_msg(m, pid)]
        # b: the queue status broadcasts (the submit changed the queue), nothing of the prompt
        b.wait_for(lambda m: isinstance(m, dict) and m["type"] == "status", what="status broadcast")
        b.ping_barrier()
        a1.ping_barrier()
        b.drain(0.3)
        assert_no_foreign_prompt_messages(b, set())
        assert {m["type"] for m in b.texts()} <= {"system", "status", "pong"}, summarize(b.log)
        # and a1 saw status broadcasts too
        assert any(m["type"] == "status" for m in a1.texts()[1:]), summarize(a1.log)


def test_submit_over_ws_passes_extra_data_and_front(ws_api):
    marker = f"m{unique()}"
    with Socket(ws_api.gw, cid("extra")) as s:
        ws_api.emu.pause(True)
        first = ws_submit(s, empty_save())
        second = ws_submit(s, empty_save(), extra_data={"ws_marker": marker}, front=True)
        assert second["number"] < first["number"], (first, second)
        pending = ws_api.emu.pending_ids()
        assert set(pending) >= {first["prompt_id"], second["prompt_id"]}, pending
        ws_api.emu.pause(False)
        ids = {first["prompt_id"], second["prompt_id"]}
        done = set()
        while done != ids:
            m = s.wait_for(lambda m: isinstance(m, dict) and m["type"] in TERMINAL
                           and m["data"]["prompt_id"] in ids - done, what="terminal messages")
            assert m["type"] == "result", m
            done.add(m["data"]["prompt_id"])
        item = ws_api.emu.wait_history(second["prompt_id"])
        assert item["prompt"][3]["ws_marker"] == marker
        # front: the second ran before the first
        order = [m["data"]["prompt_id"] for m in s.texts() if m["type"] == "result"]
        assert order == [second["prompt_id"], first["prompt_id"]], order


def test_cached_rerun_forwards_no_comfy_only_messages_and_reports_result(ws_api):
    workflow = empty_save()
    with Socket(ws_api.gw, cid("cache")) as s:
        first = ws_submit(s, workflow)
        r1 = s.wait_terminal(first["prompt_id"])
        second = ws_submit(s, workflow)     # same graph: ComfyUI serves it from its cache
        r2 = s.wait_terminal(second["prompt_id"])
        s.ping_barrier()
        assert r1["data"]["status"] == r2["data"]["status"] == "success", (r1, r2)
        assert r2["data"]["outputs"] == r1["data"]["outputs"], (r1, r2)
        assert r2["data"]["images"] == rest_images(ws_api, second["prompt_id"])["images"]
        assert_known_types_only(s)
        seq = sequence(s.log, second["prompt_id"])
        assert seq[-2:] == [("executing", None), ("result", "success")], seq
        assert [t for t, _ in seq].count("result") == 1, seq


# ------------------------------------------------------------------------------------------
# failures and interrupts

def test_failing_node_sends_one_execution_error(ws_api):
    text = f"ws failure {unique()}"
    with Socket(ws_api.gw, cid("fail")) as s:
        sub = ws_submit(s, failing(text))
        pid = sub["prompt_id"]
        err = s.wait_terminal(pid)
        assert err["type"] == "execution_error", err
        d = err["data"]
        assert d["prompt_id"] == pid
        assert d["node_id"] == "2" and d["node_type"] == "FailAlways", d
        assert d["exception_type"] == "RuntimeError", d
        assert text in d["exception_message"], d
        assert isinstance(d["traceback"], list), d
        assert d["error"]["code"] == "WORKFLOW_EXECUTION_ERROR", d
        assert isinstance(d["error"]["message"], str) and d["error"]["message"], d
        assert isinstance(d["error"]["details"], dict), d
        rest = s.drain(QUIET)
        assert not [m for m in rest if is_prompt_msg(m, pid) and m["type"] in TERMINAL], summarize(rest)
        hist = ws_api.wait_status(pid, "error")
        assert hist["error"]["details"]["exception_message"] == d["exception_message"], (hist["error"], d)
        assert_known_types_only(s)


def test_interrupting_a_running_prompt_sends_executing_null_then_interrupted_result(ws_api):
    with Socket(ws_api.gw, cid("intr")) as s:
        sub = ws_submit(s, slow_save(steps=1, delay_ms=60000))
        pid = sub["prompt_id"]
        s.wait_type("executing", node="2", prompt_id=pid)
        r = ws_api.client.post(f"{API}/workflows/interrupt", json={"prompt_id": pid})
        assert r.status_code == 200, r.text
        assert r.json() == {"prompt_id": pid, "action": "interrupted"}
        result = s.wait_terminal(pid)
        assert result["type"] == "result" and result["data"]["status"] == "interrupted", result
        seq = sequence(s.log, pid)
        assert seq[-2:] == [("executing", None), ("result", "interrupted")], seq
        rest = s.drain(QUIET)
        assert not [m for m in rest if is_prompt_msg(m, pid)], summarize(rest)
        assert_known_types_only(s)


def test_withdrawing_a_pending_prompt_sends_interrupted_result(ws_api):
    with Socket(ws_api.gw, cid("withdraw")) as s:
        ws_api.emu.pause(True)
        sub = ws_submit(s, empty_save())
        pid = sub["prompt_id"]
        assert pid in ws_api.emu.pending_ids()
        r = ws_api.client.post(f"{API}/workflows/interrupt", json={"prompt_id": pid})
        assert r.status_code == 200, r.text
        assert r.json() == {"prompt_id": pid, "action": "removed_from_queue"}
        result = s.wait_terminal(pid)
        assert result["type"] == "result", result
        assert result["data"]["status"] == "interrupted", result
        assert result["data"]["outputs"] == {}, result
        assert result["data"]["images"] == [], result
        rest = s.drain(QUIET)
        assert sequence(s.log, pid) == [("submitted", None), ("result", "interrupted")], summarize(s.log)
        assert not [m for m in rest if is_prompt_msg(m, pid)], summarize(rest)


# ------------------------------------------------------------------------------------------
# upstream trouble

def _slow_run_until_first_progress(api, sock, steps=20, delay_ms=100):
    sub = ws_submit(sock, slow_save(steps=steps, delay_ms=delay_ms))
    pid = sub["prompt_id"]
    sock.wait_type("progress", prompt_id=pid)
    return pid


def event_pred(event):
    return lambda m: isinstance(m, dict) and m["type"] == "system" and m["data"].get("event") == event


def _outage_then_terminal(socks, subscriber, pid, start):
    """Every socket gets upstream_disconnected (with a reason) then upstream_reconnected, in that
    order after log index start[sock]; the subscriber gets the prompt's terminal message after the
    disconnect. Returns (disconnected message, terminal message, indices)."""
    down_msg = None
    for sock in socks:
        down = sock.logged_or_wait(lambda m, s=sock: event_pred("upstream_disconnected")(m)
                                   and s.log.index(m) >= start[s], what="upstream_disconnected")
        msg = sock.log[down]
        assert isinstance(msg["data"].get("reason"), str) and msg["data"]["reason"], msg
        up = sock.logged_or_wait(lambda m, s=sock: event_pred("upstream_reconnected")(m)
                                 and s.log.index(m) > down, what="upstream_reconnected")
        assert up > down, summarize(sock.log)
        if sock is subscriber:
            down_msg, indices = msg, (down, up)
    terminal = subscriber.logged_or_wait(lambda m: is_prompt_msg(m, pid) and m["type"] in TERMINAL,
                                         what=f"terminal message of {pid}")
    assert terminal > indices[0], summarize(subscriber.log)
    return down_msg, subscriber.log[terminal], (*indices, terminal)


def test_upstream_drop_mid_run_reconnects_and_reports_exactly_one_result(ws_api):
    with Socket(ws_api.gw, cid("drop")) as s, Socket(ws_api.gw, cid("bystander")) as b:
        pid = _slow_run_until_first_progress(ws_api, s)
        start = {s: len(s.log), b: len(b.log)}
        r = ws_api.emu.http.post("/__emulator/drop_sockets")
        assert r.status_code == 200 and r.json()["dropped"] >= 1, r.text
        down, result, _ = _outage_then_terminal((s, b), s, pid, start)
        print("drop:", down)
        assert result["type"] == "result" and result["data"]["status"] == "success", result
        assert result["data"]["images"] == rest_images(ws_api, pid)["images"]
        rest = s.drain(QUIET)
        later = [m for m in rest if is_prompt_msg(m, pid) and m["type"] in TERMINAL]
        assert not later, f"second terminal message: {summarize(later)}"
        assert [t for t, _ in sequence(s.log, pid)].count("result") == 1
        assert_no_foreign_prompt_messages(b, set())
        assert_known_types_only(s)
        # a fresh socket reports the upstream as connected again
        with Socket(ws_api.gw, cid("after")) as fresh:
            assert fresh.hello["data"]["upstream"] == "connected", fresh.hello


def test_upstream_restart_mid_run_reports_prompt_lost(ws_api):
    with Socket(ws_api.gw, cid("restart")) as s, Socket(ws_api.gw, cid("bystander")) as b:
        pid = _slow_run_until_first_progress(ws_api, s)
        start = {s: len(s.log), b: len(b.log)}
        r = ws_api.emu.http.post("/__emulator/restart", json={"down_ms": 300})
        assert r.status_code == 200, r.text
        down, err, (i_down, i_up, i_err) = _outage_then_terminal((s, b), s, pid, start)
        assert i_down < i_up < i_err, ("execution_error before upstream_reconnected", summarize(s.log))
        print("restart:", down, err)
        assert err["type"] == "execution_error", err
        d = err["data"]
        assert d["prompt_id"] == pid
        assert d["exception_type"] == "comfy_gateway.PromptLost", d
        assert d["error"]["code"] == "WORKFLOW_EXECUTION_ERROR", d
        assert d["error"]["details"].get("reason") == "lost", d
        assert "no longer knows" in d["exception_message"] and pid in d["exception_message"], d
        assert "restart" in d["exception_message"].lower(), d
        rest = s.drain(QUIET)
        later = [m for m in rest if is_prompt_msg(m, pid) and m["type"] in TERMINAL]
        assert not later, f"second terminal message: {summarize(later)}"
        assert_no_foreign_prompt_messages(b, set())
        assert_known_types_only(s)
        # the gateway works again after the restart: a new run (with previews) completes
        workflow = slow_save(steps=2, delay_ms=10)
        workflow["2"]["inputs"]["preview"] = True
        before = len(s.binaries())
        sub = ws_submit(s, workflow)
        result = s.wait_terminal(sub["prompt_id"])
        assert result["type"] == "result" and result["data"]["status"] == "success", result
        s.ping_barrier()
        frames = s.binaries()[before:]
        assert len(frames) == 2, f"{len(frames)} preview frames after the restart"
        for frame in frames:
            assert parse_preview(frame)[0].get("prompt_id") == sub["prompt_id"]


# ------------------------------------------------------------------------------------------
# slow consumer

def raw_ws_connect(port, path, rcvbuf=4096):
    """A hand-made WebSocket handshake on a socket with a small receive buffer; returns
    (socket, bytes already read after the handshake)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(1024)
        assert chunk, f"closed during handshake: {buf!r}"
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock, rest


def parse_server_frames(data):
    """Unmasked server frames -> list of (opcode, payload); a trailing partial frame is ignored."""
    frames, i = [], 0
    while i + 2 <= len(data):
        b0, b1 = data[i], data[i + 1]
        assert not b1 & 0x80, "server frames must not be masked"
        length, j = b1 & 0x7F, i + 2
        if length == 126:
            if j + 2 > len(data):
                break
            length, j = struct.unpack(">H", data[j:j + 2])[0], j + 2
        elif length == 127:
            if j + 8 > len(data):
                break
            length, j = struct.unpack(">Q", data[j:j + 8])[0], j + 8
        if j + length > len(data):
            break
        frames.append((b0 & 0x0F, data[j:j + length]))
        i = j + length
    return frames


def test_slow_consumer_is_closed_with_1008_and_others_get_everything(stack, api):
    steps = 1500
    with stack.extra_gateway(extra_args=["--ws-send-queue-bytes", 65536]) as gw:
        wait_upstream_connected(gw)
        client_id = cid("flood")
        slow, pending = raw_ws_connect(gw.port, f"{API}/ws/{client_id}")
        try:
            with Socket(gw, client_id) as reader:
                reader.ping_barrier()
                workflow = slow_save(steps=steps, delay_ms=0)
                workflow["2"]["inputs"]["preview"] = True
                started = time.monotonic()
                r = api.submit(workflow, client=gw.client, client_id=client_id)
                assert r.status_code == 200, r.text
                pid = r.json()["prompt_id"]
                result = reader.wait_terminal(pid, timeout=60)
                run_seconds = time.monotonic() - started
                assert result["type"] == "result" and result["data"]["status"] == "success", result
                reader.ping_barrier()
                values = [m["data"]["value"] for m in reader.texts() if is_prompt_msg(m, pid) and m["type"] == "progress"]
                assert values == list(range(1, steps + 1)), (len(values), values[:5], values[-5:])
                previews = reader.binaries()
                assert len(previews) == steps, f"reader got {len(previews)} of {steps} previews"
                preview_bytes = sum(map(len, previews))
                assert preview_bytes > 50 * 65536, preview_bytes  # the flood really exceeds the bound
                # give the gateway the 2 s of its rule plus slack, then read the slow socket
                time.sleep(max(0.0, 3.0 - (time.monotonic() - started)))
            data = bytearray(pending)
            slow.settimeout(5)
            eof = False
            deadline = time.monotonic() + 15
            close_payload = None
            while time.monotonic() < deadline:
                try:
                    chunk = slow.recv(1 << 20)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    eof = "reset"
                    break
                if not chunk:
                    eof = True
                    break
                data += chunk
                closes = [p for op, p in parse_server_frames(bytes(data)) if op == 0x8]
                if closes:
                    close_payload = closes[0]
                    break
            frames = parse_server_frames(bytes(data))
            summary = (f"run {run_seconds:.1f}s, slow socket read {len(data)} bytes in {len(frames)} frames, "
                       f"eof={eof}, close={close_payload!r}")
            print(summary)
            assert close_payload is not None, f"no close frame from the gateway ({summary})"
            code = struct.unpack(">H", close_payload[:2])[0]
            assert code == 1008, summary
            # it was cut off: it did not get the whole run
            binary = [p for op, p in frames if op == 0x2]
            assert len(binary) < steps, summary
            # and the gateway ends the TCP connection too (EOF or reset, whether or not we answer)
            slow.settimeout(10)
            try:
                while slow.recv(1 << 20):
                    pass
            except ConnectionResetError:
                pass
            except socket.timeout:
                raise AssertionError(f"the gateway kept the TCP connection open after its close frame ({summary})")
        finally:
            slow.close()
