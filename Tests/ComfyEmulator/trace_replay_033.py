"""Replays the ComfyUI 0.33.0 recordings (traces-0.33/*.jsonl) with trace_replay's machinery.

What the 0.33 files need beyond the 0.3.64 ones (README.md, "ComfyUI 0.33 mode"):
* request headers: ``Origin`` values naming the recorded server (127.0.0.1:8188) name the
  emulator's port instead; ``If-None-Match`` / ``If-Modified-Since`` carrying a recorded
  ``Etag`` / ``Last-Modified`` carry the value the emulator sent for the same file earlier;
* prompt ids: the upper-case spelling of a recorded id maps to the upper-case spelling of
  the emulator's id (n_jobs_cancel cancels "B27C9118-..." on purpose);
* uploads: ``"<multipart form: image=NAME (N bytes PNG), key=value, ...>"`` is rebuilt with the
  recording's images, 8x8 PNGs made with Pillow, A red (75 bytes) and B blue (77 bytes);
* the note of q_features_view_upload that says files were placed in the output directory
  puts the same kinds of files (SVG with a script, HTML, text) there, with the recorded sizes;
* a submit's barrier leaves out the submitted prompt's own frames: ComfyUI's worker started
  n's c4 and s's s2 (execution_start ... executing) before the client had the POST /prompt
  answer, which is when the recorder logs the request;
* two submits are at least MIN_SUBMIT_GAP apart: GAP_SCALE shrinks the recorded 2.3 ms
  between m's p2 and p3 below a millisecond, and jobs are sorted by their millisecond
  ``create_time``, which was distinct for every recorded submit.
"""
import asyncio
import io
import re
import time
from pathlib import Path

import aiohttp
from PIL import Image

from trace_replay import Replayer

RECORDED_HOST = "127.0.0.1:8188"
MIN_SUBMIT_GAP = 0.003
MAPPED_HEADERS = ("Etag", "Last-Modified")           # response header -> request header values
CONDITIONAL_HEADERS = ("If-None-Match", "If-Modified-Since")


def png(color, size=(8, 8)):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


UPLOAD_A = png((255, 0, 0))    # 75 bytes with Pillow 13, as recorded
UPLOAD_B = png((0, 0, 255))    # 77 bytes, byte-identical to the recording's

# Files q_features_view_upload placed straight into the output directory (recorded sizes).
SVG_WITH_SCRIPT = (b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
                   b'<script>alert(1)</script><rect width="8" height="8"/></svg>\n')
HTML_PAGE = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
TEXT_NOTE = b"plain text\n"
PLACED_FILES = {"gw33_q_xss.svg": SVG_WITH_SCRIPT.ljust(132, b" "),
                "gw33_q_xss.html": HTML_PAGE.ljust(67, b" "),
                "gw33_q_note.txt": TEXT_NOTE}

UPLOAD_RE = re.compile(r"<multipart form: (?P<field>\w+)=(?P<name>[^ ]+) \((?P<size>\d+) bytes PNG\)"
                       r"(?P<rest>(, [^,>]+)*)>")


def upload_form(description):
    """The multipart form a "<multipart form: image=NAME (N bytes PNG), k=v, ...>" describes."""
    m = UPLOAD_RE.fullmatch(description)
    if m is None:
        raise ValueError(f"unknown upload description {description!r}")
    content = {len(UPLOAD_A): UPLOAD_A, len(UPLOAD_B): UPLOAD_B}.get(int(m["size"]), UPLOAD_A)
    form = aiohttp.FormData()
    form.add_field(m["field"], content, filename=m["name"], content_type="image/png")
    for pair in filter(None, m["rest"].split(", ")):
        key, _, value = pair.partition("=")
        form.add_field(key, value)
    return form


class Replayer033(Replayer):
    def __init__(self, base_http, base_ws, pid_map, root):
        super().__init__(base_http, base_ws, pid_map, on_note=self.place_files)
        self.root = Path(root)
        self.host = base_http.split("://", 1)[1]
        self.header_values = {}   # recorded Etag / Last-Modified -> the emulator's
        self.last_submit = 0.0

    def caused_by(self, ev):
        if ev.get("src") == "http" and ev["method"] == "POST" and ev["path"] == "/prompt" \
                and isinstance(ev.get("body"), dict):
            return ev["body"].get("prompt_id")
        return None

    def request_headers(self, ev):
        headers = ev.get("request_headers")
        if not headers:
            return None
        out = {}
        for name, value in headers.items():
            if name.lower() == "origin":
                value = value.replace(RECORDED_HOST, self.host)
            elif name in CONDITIONAL_HEADERS:
                value = self.header_values.get(value, value)
            out[name] = value
        return out

    def map_prompt_id(self, recorded, actual):
        super().map_prompt_id(recorded, actual)
        self.pid_map[recorded.upper()] = actual.upper()

    def upload_form(self, ev):
        return upload_form(ev["request"])

    def place_files(self, note):
        if "placed gw33_q_xss.svg" in note:
            for name, content in PLACED_FILES.items():
                (self.root / "output" / name).write_bytes(content)

    async def http(self, session, ev):
        if ev["method"] == "POST" and ev["path"] == "/prompt":
            await asyncio.sleep(max(0.0, self.last_submit + MIN_SUBMIT_GAP - time.monotonic()))
            self.last_submit = time.monotonic()
        actual = await super().http(session, ev)
        recorded = ev.get("headers") or {}
        got = {k.lower(): v for k, v in actual["headers"].items()}
        for name in MAPPED_HEADERS:
            if name in recorded and name.lower() in got:
                self.header_values[recorded[name]] = got[name.lower()]
        return actual
