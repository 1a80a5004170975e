"""REST black-box tests: the error contract (docs/api-contract.md "Errors"): one error shape on
every route, X-Request-Id, 404/405 (with Allow), ComfyUI unreachable -> 502 CONNECTION_ERROR with
details.upstream, ComfyUI resetting connections -> 502, ComfyUI hanging -> 504 TASK_TIMEOUT."""
import re
import time
import uuid

import httpx
import pytest

from rest_stack import (API, api, assert_error, empty_save, free_port, multipart, png, stack,  # noqa: F401
                        unique, wait_until)

HEX32 = re.compile(r"[0-9a-f]{32}")


def test_unknown_routes_are_404_not_found(api):
    for path in ("/api/v1/nothing", "/api/v1/workflows", "/api/v1/queue", "/api/v1/images/nothing",
                 "/api/v1/workflows/x/nothing", "/api/v2/queue/status"):
        r = api.client.get(path)
        assert_error(r, 404, "NOT_FOUND")
        assert r.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("method,path,allowed", [
    ("GET", "/api/v1/workflows/submit", {"POST"}),
    ("PUT", "/api/v1/workflows/submit", {"POST"}),
    ("GET", "/api/v1/workflows/interrupt", {"POST"}),
    ("POST", "/api/v1/workflows/abc/history", {"GET"}),
    ("DELETE", "/api/v1/workflows/abc/images", {"GET"}),
    ("POST", "/api/v1/queue/status", {"GET"}),
    ("GET", "/api/v1/queue/clear", {"POST"}),
    ("GET", "/api/v1/images/upload", {"POST"}),
    ("POST", "/api/v1/images/download", {"GET"}),
    ("PATCH", "/api/v1/images/url", {"GET"}),
    ("POST", "/health", {"GET"}),
    ("DELETE", "/openapi.json", {"GET"}),
])
def test_wrong_method_is_405_with_allow(api, method, path, allowed):
    r = api.client.request(method, path)
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    allow = {m.strip().upper() for m in r.headers.get("allow", "").split(",") if m.strip()}
    assert allowed <= allow, r.headers.get("allow")
    assert method not in allow


def test_request_id_is_echoed_everywhere(api):
    rid = f"rest-bb_1.2:{unique()}"
    headers = {"X-Request-Id": rid}
    ok = api.client.get("/health", headers=headers)
    assert ok.status_code == 200 and ok.headers["x-request-id"] == rid
    status = api.client.get(f"{API}/queue/status", headers=headers)
    assert status.status_code == 200 and status.headers["x-request-id"] == rid
    for response, code, http in (
        (api.client.get("/api/v1/nope", headers=headers), "NOT_FOUND", 404),
        (api.client.get(f"{API}/workflows/submit", headers=headers), "METHOD_NOT_ALLOWED", 405),
        (api.client.post(f"{API}/workflows/submit", json={}, headers=headers), "INVALID_REQUEST", 422),
        (api.client.post(f"{API}/workflows/submit", content=b"{", headers={**headers, "Content-Type": "application/json"}),
         "INVALID_REQUEST", 400),
        (api.client.post(f"{API}/workflows/submit", json={"workflow": {}}, headers=headers),
         "WORKFLOW_VALIDATION_ERROR", 400),
        (api.client.get(f"{API}/workflows/{uuid.uuid4()}/history", headers=headers), "WORKFLOW_NOT_FOUND", 404),
        (api.client.get(f"{API}/images/download", params={"filename": "../x.png"}, headers=headers),
         "FILE_OPERATION_ERROR", 400),
        (api.client.get(f"{API}/images/download", params={"filename": f"none{unique()}.png"}, headers=headers),
         "IMAGE_NOT_FOUND", 404),
    ):
        error = assert_error(response, http, code)
        assert response.headers["x-request-id"] == rid
        assert error["request_id"] == rid


@pytest.mark.parametrize("bad", ["has spaces in it", "x" * 129, "<script>", "semi;colon", "quote\"d", "é"])
def test_insane_request_id_is_replaced(api, bad):
    r = api.client.get("/api/v1/nope", headers={"X-Request-Id": bad.encode("utf-8")})
    error = assert_error(r, 404, "NOT_FOUND")
    assert r.headers["x-request-id"] != bad
    assert error["request_id"] == r.headers["x-request-id"]


def test_generated_request_ids_are_unique(api):
    ids = {api.client.get("/health").headers["x-request-id"] for _ in range(5)}
    ids |= {api.client.get("/nothing").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 10
    assert all(i for i in ids)


def poll_status(client, path, until, timeout=30):
    """GETs path until until(status) holds (a 404/405 ends it at once); returns the response."""
    return wait_until(lambda: (lambda r: r if until(r.status_code) or r.status_code in (404, 405) else None)(
        client.get(path)), timeout=timeout, message=f"{path} status")


def test_ready_while_comfyui_answers(api):
    r = poll_status(api.client, "/ready", lambda status: status == 200)
    assert r.status_code == 200, r.text
    assert r.headers.get("x-request-id")


def test_ready_is_503_while_comfyui_is_unreachable(stack):
    dead = f"http://127.0.0.1:{free_port()}"
    with stack.extra_gateway("dead-upstream-ready", comfyui_url=dead) as gw:
        assert gw.client.get("/health").status_code == 200
        r = poll_status(gw.client, "/ready", lambda status: status != 200)
        error = assert_error(r, 503, "CONNECTION_ERROR")
        assert error["details"].get("upstream", "").rstrip("/") == dead


def test_comfyui_unreachable_is_502_connection_error(stack):
    stack.reset()
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with stack.extra_gateway("dead-upstream", comfyui_url=dead) as gw:
        c = gw.client
        assert c.get("/health").status_code == 200
        body, ctype = multipart({}, [("file", "x.png", png(), "image/png")])
        calls = [
            c.post(f"{API}/workflows/submit", json={"workflow": empty_save()}),
            c.get(f"{API}/workflows/{uuid.uuid4()}/history"),
            c.get(f"{API}/workflows/{uuid.uuid4()}/images"),
            c.post(f"{API}/workflows/interrupt", json={}),
            c.post(f"{API}/workflows/interrupt", json={"prompt_id": str(uuid.uuid4())}),
            c.get(f"{API}/queue/status"),
            c.post(f"{API}/queue/clear", json={"clear": True}),
            c.get(f"{API}/images/download", params={"filename": f"x{unique()}.png"}),
            c.post(f"{API}/images/upload", content=body, headers={"Content-Type": ctype}),
        ]
        for r in calls:
            error = assert_error(r, 502, "CONNECTION_ERROR")
            assert error["details"].get("upstream", "").rstrip("/") == dead, (r.request.url, error)
        # /images/url needs no ComfyUI.
        assert c.get(f"{API}/images/url", params={"filename": "x.png"}).status_code == 200
        # Local validation still comes first.
        assert_error(c.post(f"{API}/workflows/submit", json={}), 422, "INVALID_REQUEST")
        assert_error(c.post(f"{API}/workflows/submit", json={"workflow": {"1": 5}}), 400, "WORKFLOW_VALIDATION_ERROR")


def test_comfyui_resetting_connections_is_502_connection_error(api):
    api.emu.set_faults(reset=["/queue", "/prompt"])
    for name, call in (("queue status", lambda: api.client.get(f"{API}/queue/status")),
                       ("submit", lambda: api.submit(empty_save()))):
        error = assert_error(call(), 502, "CONNECTION_ERROR")
        assert error["details"].get("upstream", "").rstrip("/") == api.emu.base, name
    api.emu.clear_faults()
    assert api.client.get(f"{API}/queue/status").status_code == 200


def test_comfyui_resetting_a_download_never_leaves_a_truncated_cache_file(api):
    """ComfyUI sends 200 + headers + part of the body, then resets. A streaming gateway may
    already have answered 200 (then the client sees the transfer cut short) or answers 502;
    either way the broken file is not cached, and the next download is complete."""
    name = f"reset{unique()}.png"
    data = png(size=(64, 64))
    (api.emu.output_dir / name).write_bytes(data)
    api.emu.set_faults(reset=["/view"])
    try:
        r = api.client.get(f"{API}/images/download", params={"filename": name})
    except (httpx.RemoteProtocolError, httpx.ReadError):
        pass
    else:
        if r.status_code != 200:
            error = assert_error(r, 502, "CONNECTION_ERROR")
            assert error["details"].get("upstream", "").rstrip("/") == api.emu.base
        else:
            assert r.content == data, "a cut-short body was answered as complete"
    api.emu.clear_faults()
    cached = api.gw.output_dir / name
    assert not cached.exists() or cached.read_bytes() == data
    r = api.client.get(f"{API}/images/download", params={"filename": name})
    assert r.status_code == 200 and r.content == data


def test_comfyui_hanging_is_504_task_timeout(stack):
    stack.reset()
    with stack.extra_gateway("short-timeout", timeout=2) as gw:
        assert gw.client.get(f"{API}/queue/status").status_code == 200
        stack.emu.set_faults(hang=["/prompt", "/queue", "/view", "/history*", "/upload/image"])
        try:
            body, ctype = multipart({}, [("file", f"h{unique()}.png", png(), "image/png")])
            for name, call in (
                ("submit", lambda: gw.client.post(f"{API}/workflows/submit", json={"workflow": empty_save()})),
                ("queue", lambda: gw.client.get(f"{API}/queue/status")),
                ("history", lambda: gw.client.get(f"{API}/workflows/{uuid.uuid4()}/history")),
                ("download", lambda: gw.client.get(f"{API}/images/download", params={"filename": f"h{unique()}.png"})),
                ("upload", lambda: gw.client.post(f"{API}/images/upload", content=body,
                                                  headers={"Content-Type": ctype})),
            ):
                started = time.monotonic()
                r = call()
                elapsed = time.monotonic() - started
                assert_error(r, 504, "TASK_TIMEOUT")
                assert 1.5 <= elapsed < 30, f"{name}: answered after {elapsed:.1f}s with --comfyui-timeout 2"
        finally:
            stack.emu.clear_faults()
        assert gw.client.get(f"{API}/queue/status").status_code == 200


def test_errors_never_leak_internals(api):
    r = api.client.post(f"{API}/workflows/submit", content=b"\xff\xfe\x00garbage",
                        headers={"Content-Type": "application/json"})
    assert_error(r, 400, "INVALID_REQUEST")
    for text in ("Traceback", "Fatal error", ".swift", "Swift."):
        assert text not in r.text


def test_error_bodies_are_utf8_json(api):
    r = api.client.get(f"{API}/workflows/{uuid.uuid4()}/history")
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    httpx.Response(200, content=r.content).json()
