"""Small synchronous helpers shared by the focused emulator tests (HTTP via httpx, WebSocket
via websockets' sync client)."""
import io
import json
import time

import httpx
from PIL import Image
from websockets.sync.client import connect

EMPTY_SAVE = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 16, "batch_size": 1, "color": 0}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "t"}},
}


def slow_prompt(steps=3, delay_ms=20, prefix="slow", color=1, preview=False):
    inputs = {"image": ["1", 0], "steps": steps, "delay_ms": delay_ms}
    if preview:
        inputs["preview"] = True
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 16, "batch_size": 1, "color": color}},
        "2": {"class_type": "SlowProgress", "inputs": inputs},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": prefix}},
    }


def png(color=(10, 20, 30), size=(8, 8)):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def submit(emu, prompt, client_id=None, **extra):
    body = {"prompt": prompt, **extra}
    if client_id is not None:
        body["client_id"] = client_id
    r = httpx.post(emu.base + "/prompt", json=body)
    return r


def history(emu, prompt_id):
    return httpx.get(f"{emu.base}/history/{prompt_id}").json()


def wait_history(emu, prompt_id, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = history(emu, prompt_id)
        if h:
            return h[prompt_id]
        time.sleep(0.02)
    raise AssertionError(f"prompt {prompt_id} did not finish")


def ws_connect(emu, client_id=None, **kwargs):
    url = emu.ws_base + "/ws" + (f"?clientId={client_id}" if client_id else "")
    ws = connect(url, max_size=None, **kwargs)
    ws.pending_legacy_warning = False  # used without a `with` block on purpose
    return ws


def recv_frame(ws, timeout=5):
    msg = ws.recv(timeout=timeout)
    if isinstance(msg, bytes):
        return {"binary": int.from_bytes(msg[:4], "big"), "raw": msg}
    return json.loads(msg)


def collect_until(ws, predicate, timeout=10):
    """Receive frames until predicate(frame) is true; returns every frame received."""
    frames = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out; got {[f.get('type', f.get('binary')) for f in frames]}")
        f = recv_frame(ws, remaining)
        frames.append(f)
        if predicate(f):
            return frames


def is_done(prompt_id):
    return lambda f: f.get("type") == "executing" and f["data"].get("node") is None \
        and f["data"].get("prompt_id") == prompt_id


def drain(ws, quiet=0.2):
    """Receive until no frame arrives for `quiet` seconds."""
    frames = []
    while True:
        try:
            frames.append(recv_frame(ws, quiet))
        except TimeoutError:
            return frames


def types(frames):
    return [f.get("type", f"BIN{f.get('binary')}") for f in frames]


def stats(conn):
    """GET /__emulator/stats over an existing http.client connection (reused, keep-alive)."""
    conn.request("GET", "/__emulator/stats")
    r = conn.getresponse()
    return json.loads(r.read())
