"""Replays a recorded ComfyUI trace (traces/*.jsonl, recorded from a real ComfyUI 0.3.64 and kept in
this folder; see docs/comfyui.md, "The recorded traces") against a running emulator.

Actions (WebSocket open / client frame / close, HTTP requests) are performed in recorded
order. Before each action the replayer waits for a *barrier*: on every open socket, the last
non-``status`` frame recorded before that action must have arrived (matched by a key such as
``("progress", node, value, max)`` and its occurrence count). Then it waits the recorded gap
between that frame and the action, scaled by GAP_SCALE. SlowProgress ``delay_ms`` values are
scaled by DELAY_SCALE; since GAP_SCALE < DELAY_SCALE, an action recorded "between two
progress frames" lands well inside that step instead of racing the next one.

Recorded prompt ids are mapped to the ids the emulator returns; uploads (recorded only as
"<multipart form>" plus a label) are rebuilt from their labels.

Hooks used by the 0.33 traces (trace_replay_033.py; the 0.3.64 traces have none of these
fields): ``request_headers`` of HTTP events and WebSocket opens are sent (through
``request_headers()``), refused upgrades (``dir: "rejected"``) are attempted and their
status kept, and with ``on_note`` set, notes become actions (``on_note(text)`` runs at the
note's place, e.g. to put files where the recording put them). SlowPreview's ``delay`` and
SlowProgress's float ``delay`` (seconds) are scaled like ``delay_ms``.
"""
import asyncio
import io
import json
import re
import time
from collections import defaultdict

import aiohttp
from PIL import Image

DELAY_SCALE = 0.5
GAP_SCALE = 0.25
BARRIER_TIMEOUT = 15.0

SLOW_NODES = ("SlowProgress", "SlowPreview")
LIFECYCLE = {"execution_start", "execution_cached", "execution_success", "execution_error",
             "execution_interrupted", "feature_flags"}


def load_trace(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def png_bytes(color, size=(32, 24)):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


UPLOAD_A = png_bytes((200, 30, 30))
UPLOAD_B = png_bytes((30, 200, 30))


def upload_form(label):
    """Rebuild trace b's multipart uploads from their labels."""
    form = aiohttp.FormData()
    if "wrong field name" in label:
        form.add_field("file", UPLOAD_A, filename="gw_test.png", content_type="image/png")
        return form
    content = UPLOAD_B if "different content" in label else UPLOAD_A
    form.add_field("image", content, filename="gw_test.png", content_type="image/png")
    if "overwrite=true" in label:
        form.add_field("overwrite", "true")
    if "subfolder=gwsub" in label:
        form.add_field("subfolder", "gwsub")
        form.add_field("type", "input")
        form.add_field("overwrite", "1")
    return form


def parse_frame(msg_type, data):
    if msg_type == "text":
        return {"kind": "text", "msg": json.loads(data)}
    event = int.from_bytes(data[0:4], "big")
    second = int.from_bytes(data[4:8], "big")
    frame = {"kind": "binary", "event_type": event, "second_u32": second, "len": len(data)}
    if event == 4:
        frame["meta"] = json.loads(data[8:8 + second])
    if event == 3:
        frame["node_id"] = data[8:8 + second].decode()
        frame["text_payload"] = data[8 + second:].decode()
    return frame


def recorded_frame(ev):
    if ev.get("binary"):
        frame = {"kind": "binary", "event_type": ev["event_type"], "second_u32": ev["second_u32"],
                 "len": ev.get("len")}
        for k in ("meta", "node_id", "text_payload"):
            if k in ev:
                frame[k] = ev[k]
        return frame
    return {"kind": "text", "msg": json.loads(ev["text"])}


def frame_prompt_id(frame):
    if frame["kind"] == "binary":
        return (frame.get("meta") or {}).get("prompt_id")
    data = frame["msg"].get("data")
    return data.get("prompt_id") if isinstance(data, dict) else None


def is_status(frame):
    return frame["kind"] == "text" and frame["msg"].get("type") == "status"


def frame_key(frame):
    """Identity used for barriers (prompt-independent)."""
    if frame["kind"] == "binary":
        return ("binary", frame["event_type"])
    msg = frame["msg"]
    t, d = msg.get("type"), msg.get("data") or {}
    if t in ("executing", "executed"):
        return (t, d.get("node"))
    if t == "progress":
        return (t, d.get("node"), d.get("value"), d.get("max"))
    if t == "progress_state":
        return (t, tuple((k, v["state"], v["value"]) for k, v in sorted(d.get("nodes", {}).items())))
    return (t,)


class Connection:
    def __init__(self, key, url):
        self.key = key
        self.url = url
        self.frames = []        # (arrival monotonic time, frame)
        self.ws = None
        self.task = None
        self.closed = False

    def count(self, key):
        return sum(1 for _, f in self.frames if not is_status(f) and frame_key(f) == key)

    def arrival_of(self, key, n):
        seen = 0
        for t, f in self.frames:
            if not is_status(f) and frame_key(f) == key:
                seen += 1
                if seen == n:
                    return t
        return None


class TraceRun:
    """The outcome of one replayed trace."""

    def __init__(self, name):
        self.name = name
        self.connections = {}            # conn key -> Connection
        self.recorded = defaultdict(list)  # conn key -> recorded frames
        self.conn_urls = {}
        self.http = []                   # (recorded event, actual dict)
        self.rejected = []               # (recorded "rejected" event, actual status or None)
        self.barrier_timeouts = []


def scale_delay(seconds):
    """A float ``delay`` (seconds) scaled by DELAY_SCALE (the same for requests and bodies)."""
    return round(seconds * DELAY_SCALE, 6)


def scale_prompt(req):
    """Shorten SlowProgress/SlowPreview delays in a POST /prompt body (a copy)."""
    if not isinstance(req, dict) or not isinstance(req.get("prompt"), dict):
        return req
    req = json.loads(json.dumps(req))
    for node in req["prompt"].values():
        if isinstance(node, dict) and node.get("class_type") in SLOW_NODES:
            inputs = node.get("inputs", {})
            if isinstance(inputs.get("delay_ms"), int):
                inputs["delay_ms"] = int(round(inputs["delay_ms"] * DELAY_SCALE))
            if isinstance(inputs.get("delay"), float):
                inputs["delay"] = scale_delay(inputs["delay"])
    return req


def substitute(value, pid_map):
    if isinstance(value, str):
        return pid_map.get(value, value)
    if isinstance(value, list):
        return [substitute(v, pid_map) for v in value]
    if isinstance(value, dict):
        return {substitute(k, pid_map): substitute(v, pid_map) for k, v in value.items()}
    return value


def substitute_path(path, pid_map):
    for old, new in pid_map.items():
        path = path.replace(old, new)
    return path


class Replayer:
    def __init__(self, base_http, base_ws, pid_map, on_note=None):
        self.base_http = base_http
        self.base_ws = base_ws
        self.pid_map = pid_map
        self.on_note = on_note

    def request_headers(self, ev):
        """Headers to send for a recorded HTTP event or WebSocket open (None: none)."""
        return ev.get("request_headers")

    def caused_by(self, ev):
        """The prompt id whose recorded frames ``ev`` itself caused (so they cannot be part of
        its barrier), or None. The 0.3.64 traces need none."""
        return None

    def map_prompt_id(self, recorded, actual):
        self.pid_map[recorded] = actual

    def upload_form(self, ev):
        return upload_form(ev.get("label", ""))

    async def run(self, name, events):
        run = TraceRun(name)
        # Pass 1: attribute frames to connection instances and compute barriers.
        opens = defaultdict(int)
        current = {}
        actions = []
        seen = defaultdict(list)  # conn key -> [(frame key, its count, t_ms, prompt_id)]
        counts = defaultdict(lambda: defaultdict(int))
        open_now = set()

        def barrier_for(ev):
            """The last frame recorded so far on each open socket, leaving out the frames
            caused_by(ev) says the action itself caused."""
            caused = self.caused_by(ev)
            out = {}
            for k in open_now:
                for fk, n, t_ms, pid in reversed(seen[k]):
                    if caused is None or pid != caused:
                        out[k] = (fk, n, t_ms)
                        break
            return out

        for ev in events:
            src = ev.get("src", "")
            if src.startswith("ws:"):
                d = ev.get("dir")
                if d == "open":
                    opens[src] += 1
                    current[src] = (src, opens[src])
                    run.conn_urls[current[src]] = ev["url"]
                    actions.append(("open", ev, current[src], barrier_for(ev)))
                    open_now.add(current[src])
                elif d == "in":
                    key = current[src]
                    frame = recorded_frame(ev)
                    run.recorded[key].append(frame)
                    if not is_status(frame):
                        fk = frame_key(frame)
                        counts[key][fk] += 1
                        seen[key].append((fk, counts[key][fk], ev["t_ms"], frame_prompt_id(frame)))
                elif d == "out":
                    actions.append(("out", ev, current[src], barrier_for(ev)))
                elif d == "closed":
                    actions.append(("close", ev, current[src], barrier_for(ev)))
                    open_now.discard(current[src])
                elif d == "rejected":
                    actions.append(("reject", ev, None, barrier_for(ev)))
            elif src == "note" and self.on_note is not None:
                actions.append(("note", ev, None, barrier_for(ev)))
            elif src == "http":
                actions.append(("http", ev, None, barrier_for(ev)))

        t0 = time.monotonic()
        async with aiohttp.ClientSession() as session:
            for kind, ev, key, barrier in actions:
                await self.wait_barrier(run, barrier, ev, t0)
                if kind == "open":
                    await self.open(session, run, key, ev)
                elif kind == "out":
                    await run.connections[key].ws.send_str(ev["text"])
                elif kind == "close":
                    await self.close(run.connections[key])
                elif kind == "reject":
                    run.rejected.append((ev, await self.reject(session, ev)))
                elif kind == "note":
                    self.on_note(ev.get("note", ""))
                else:
                    run.http.append((ev, await self.http(session, ev)))
            for conn in run.connections.values():
                await self.close(conn)
        return run

    async def wait_barrier(self, run, barrier, ev, t0):
        deadline = time.monotonic() + BARRIER_TIMEOUT
        anchor_t, anchor_rec = None, None
        for key, (fk, n, t_ms) in barrier.items():
            conn = run.connections.get(key)
            if conn is None or conn.closed:
                continue
            while conn.count(fk) < n and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            arrived = conn.arrival_of(fk, n)
            if arrived is None:
                run.barrier_timeouts.append((ev.get("seq"), key, fk, n))
                continue
            if anchor_rec is None or t_ms > anchor_rec:
                anchor_rec, anchor_t = t_ms, arrived
        if anchor_rec is None:
            anchor_rec, anchor_t = 0.0, t0
        target = anchor_t + max(0.0, ev["t_ms"] - anchor_rec) / 1000.0 * GAP_SCALE
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def open(self, session, run, key, ev=None):
        url = run.conn_urls[key]
        path = url.split("/", 3)[3]
        conn = Connection(key, url)
        run.connections[key] = conn
        conn.ws = await session.ws_connect(f"{self.base_ws}/{path}", autoping=True, max_msg_size=0,
                                           headers=self.request_headers(ev or {}))

        async def reader():
            async for msg in conn.ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    conn.frames.append((time.monotonic(), parse_frame("text", msg.data)))
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    conn.frames.append((time.monotonic(), parse_frame("binary", msg.data)))
        conn.task = asyncio.get_running_loop().create_task(reader())

    async def reject(self, session, ev):
        """Attempt a WebSocket upgrade the recording saw refused; the HTTP status we got
        (None if the upgrade was accepted, which the check reports)."""
        path = ev["url"].split("/", 3)[3]
        try:
            ws = await session.ws_connect(f"{self.base_ws}/{path}", headers=self.request_headers(ev))
        except aiohttp.WSServerHandshakeError as err:
            return err.status
        await ws.close()
        return None

    async def close(self, conn):
        if conn.closed:
            return
        conn.closed = True
        await conn.ws.close()
        try:
            await asyncio.wait_for(conn.task, 5)
        except asyncio.TimeoutError:
            conn.task.cancel()

    async def http(self, session, ev):
        method = ev["method"]
        path = substitute_path(ev["path"], self.pid_map)
        req = ev.get("request")
        kwargs = {}
        if isinstance(req, str) and req.startswith("<multipart form"):
            kwargs["data"] = self.upload_form(ev)
        elif req == "<0 bytes>":
            kwargs["data"] = b""
        elif isinstance(req, (dict, list)):
            body = substitute(scale_prompt(req), self.pid_map) if path.endswith("/prompt") else substitute(req, self.pid_map)
            kwargs["data"] = json.dumps(body)
            kwargs["headers"] = {"Content-Type": "application/json"}
        elif isinstance(req, str):
            kwargs["data"] = req
        headers = self.request_headers(ev)
        if headers:
            kwargs["headers"] = {**kwargs.get("headers", {}), **headers}
        async with session.request(method, self.base_http + path, **kwargs) as resp:
            raw = await resp.read()
            ctype = resp.headers.get("Content-Type")
            actual = {"status": resp.status, "content_type": ctype, "headers": dict(resp.headers), "raw": raw}
            if ctype and "json" in ctype:
                actual["body"] = json.loads(raw)
            elif ctype and ctype.startswith("text/"):
                actual["body"] = raw.decode()
        if method == "POST" and path.endswith("/prompt") and isinstance(ev.get("body"), dict) \
                and "prompt_id" in ev["body"] and isinstance(actual.get("body"), dict):
            self.map_prompt_id(ev["body"]["prompt_id"], actual["body"]["prompt_id"])
        return actual


# -- normalisation and comparison ---------------------------------------------------------------

TEMP_RE = re.compile(r"ComfyUI_temp_[a-z]{5}_")
VOLATILE_KEYS = {"timestamp"}


def normalize(value, pid_map=None, recorded=False):
    """Replace run-specific values so recorded and emulated data can be compared with ==."""
    if recorded and pid_map:
        value = substitute(value, pid_map)

    def walk(v, parent_key=None):
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if k in VOLATILE_KEYS:
                    out[k] = "<ts>"
                elif k == "traceback":
                    out[k] = "<traceback>" if isinstance(x, list) and all(isinstance(s, str) for s in x) else x
                elif k == "current_inputs" and isinstance(x, dict):
                    out[k] = {name: "<value>" for name in x}
                elif k == "delay_ms" and recorded and isinstance(x, int):
                    out[k] = int(round(x * DELAY_SCALE))
                elif k == "delay" and recorded and isinstance(x, float):
                    out[k] = scale_delay(x)
                elif k == "prompt" and isinstance(x, list) and len(x) == 5:
                    out[k] = queue_item(x, walk)
                elif k in ("queue_running", "queue_pending") and isinstance(x, list):
                    out[k] = [queue_item(i, walk) for i in x]
                else:
                    out[k] = walk(x, k)
            return out
        if isinstance(v, list):
            return [walk(x, parent_key) for x in v]
        if isinstance(v, str):
            return TEMP_RE.sub("ComfyUI_temp_xxxxx_", v)
        return v

    return walk(value)


def queue_item(item, walk):
    """[number, id, prompt, extra, outputs]; outputs_to_execute is a Python set in ComfyUI:
    its order is arbitrary, so it is compared sorted."""
    if not isinstance(item, list) or len(item) != 5:
        return walk(item)
    out = [walk(x) for x in item]
    if isinstance(item[4], list):
        out[4] = sorted(walk(item[4]))
    return out


def shape(value):
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return ["<list>"]
    return type(value).__name__


def comparable_frame(frame, pid_map, recorded, anonymous):
    """A normalised, hashable-ish view of one frame."""
    if frame["kind"] == "binary":
        out = {"binary": frame["event_type"], "second_u32": frame["second_u32"]}
        if "meta" in frame:
            out["meta"] = normalize(frame["meta"], pid_map, recorded)
        if "node_id" in frame:
            out["node_id"] = frame["node_id"]
            out["text"] = frame["text_payload"]
        return out
    msg = normalize(frame["msg"], pid_map, recorded)
    if anonymous and msg.get("type") == "status" and "sid" in (msg.get("data") or {}):
        msg["data"]["sid"] = "<anonymous>"
    return msg


def is_coarse(cf):
    """Frames whose order relative to status frames is causally fixed."""
    if "binary" in cf:
        return False
    t = cf.get("type")
    if t == "status" or t in LIFECYCLE:
        return True
    return t == "executing" and cf["data"].get("node") is None
