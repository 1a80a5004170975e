"""Test-only controls under /__emulator/ (never aliased under /api), connection counting and
fault injection.

* CountingServer: an aiohttp ``web.Server`` whose connection_made/connection_lost count real
  TCP connections (accepted and currently open), so tests can prove keep-alive reuse.
* request/fault middlewares: count every HTTP request; inject ``hang`` (accept the request and
  never answer), ``reset`` (send a status line, headers and part of a body, then abort the TCP
  connection with RST) and ``status`` (answer that status with a small text body) for the
  configured paths, matched after stripping a leading /api.
* routes: drop_sockets, pause, restart, stats, faults, emit_progress.
* emit_progress (WebSocket fan-out benchmark): for every prompt in the queue (running +
  pending) submitted with a client_id, send ``round(rate * seconds)`` ``progress`` messages
  ``{"value", "max", "prompt_id", "node", "sent_ns"}`` to that client's socket only, paced at
  ``rate`` per second per prompt (one tick every 1/rate s on absolute loop.time() deadlines,
  all prompts in the same tick, or spread evenly over it with ``"stagger": true``; a late loop sends the overdue tick at once and re-bases, it
  never bursts). These bypass the hub's FIFO: the text is built and ``send_str`` called
  directly, ``sent_ns`` (time.monotonic_ns()) being stamped right before the write. The
  background tasks are cancelled by restart and on shutdown (Emulator.stop_background).
"""
import asyncio
import json
import logging
import socket
import struct
import time

from aiohttp import web

PREFIX = "/__emulator"

log = logging.getLogger("comfy_emulator.controls")


class CountingServer(web.Server):
    """Installed by swapping the class of the runner's server (see app.Emulator.start)."""

    emu = None

    def connection_made(self, handler, transport):
        super().connection_made(handler, transport)
        stats = self.emu.stats
        stats["connections_accepted"] += 1
        stats["connections_open"] += 1
        if self.emu.refuse_connections:
            transport.abort()

    def connection_lost(self, handler, exc=None):
        if handler in self._connections:
            self.emu.stats["connections_open"] -= 1
        super().connection_lost(handler, exc)


def strip_api(path):
    if path == "/api":
        return "/"
    if path.startswith("/api/"):
        return path[4:]
    return path


def _matches(patterns, path):
    for p in patterns:
        if p == path or (p.endswith("*") and path.startswith(p[:-1])):
            return True
    return False


async def _hang(request):
    """Never answer; return only once the client has gone (or the server stops)."""
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        await asyncio.sleep(0.05)
    raise ConnectionResetError("client went away during an injected hang")


async def _reset(request):
    transport = request.transport
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.write(b"HTTP/1.1 200 OK\r\n"
                    b"Content-Type: application/json; charset=utf-8\r\n"
                    b"Content-Length: 4096\r\n\r\n"
                    b"{\"partial\": \"")
    await asyncio.sleep(0.05)
    transport.abort()
    raise ConnectionResetError("connection reset by an injected fault")


def make_request_middleware(emu):
    @web.middleware
    async def request_counter(request, handler):
        emu.stats["requests"] += 1
        if request.path.startswith(PREFIX + "/"):
            return await handler(request)
        path = strip_api(request.path)
        faults = emu.faults
        if _matches(faults.get("hang", []), path):
            await _hang(request)
        if _matches(faults.get("reset", []), path):
            await _reset(request)
        status = faults.get("status", {})
        if path in status:
            code = int(status[path])
            return web.Response(status=code, text=f"emulator fault: status {code}\n")
        return await handler(request)
    return request_counter


class ControlRoutes:
    def __init__(self, emu):
        self.emu = emu

    def register(self, app):
        app.router.add_post(PREFIX + "/drop_sockets", self.drop_sockets)
        app.router.add_post(PREFIX + "/pause", self.pause)
        app.router.add_post(PREFIX + "/restart", self.restart)
        app.router.add_get(PREFIX + "/stats", self.stats)
        app.router.add_post(PREFIX + "/faults", self.set_faults)
        app.router.add_get(PREFIX + "/faults", self.get_faults)
        app.router.add_post(PREFIX + "/emit_progress", self.emit_progress)

    async def _body(self, request):
        raw = await request.read()
        if not raw.strip():
            return {}
        return await request.json()

    async def drop_sockets(self, request):
        n = self.emu.drop_sockets()
        return web.json_response({"dropped": n})

    async def pause(self, request):
        body = await self._body(request)
        self.emu.set_paused(bool(body.get("paused", True)))
        return web.json_response({"paused": self.emu.paused})

    async def restart(self, request):
        body = await self._body(request)
        await self.emu.restart(keep=request.transport, down_ms=int(body.get("down_ms", 0)))
        response = web.json_response({"restarted": True})
        response.force_close()
        return response

    async def stats(self, request):
        s = dict(self.emu.stats)
        s["websockets_open"] = len(self.emu.open_websockets)
        return web.json_response(s)

    async def set_faults(self, request):
        body = await self._body(request)
        faults = {
            "hang": [str(p) for p in body.get("hang", [])],
            "reset": [str(p) for p in body.get("reset", [])],
            "status": {str(k): int(v) for k, v in body.get("status", {}).items()},
        }
        self.emu.faults = faults
        return web.json_response(faults)

    async def get_faults(self, request):
        return web.json_response(self.emu.faults)

    async def emit_progress(self, request):
        try:
            body = await self._body(request)
        except ValueError:
            return _bad_request("the body must be JSON")
        if not isinstance(body, dict):
            return _bad_request("the body must be a JSON object")
        rate = body.get("rate", 50)
        seconds = body.get("seconds", 10)
        node = body.get("node", "1")
        stagger = body.get("stagger", False)
        if not _is_number(rate) or not 1 <= rate <= 1000:
            return _bad_request("rate must be a number from 1 to 1000")
        if not _is_number(seconds) or not 0 < seconds <= 600:
            return _bad_request("seconds must be a number above 0 and at most 600")
        if not isinstance(node, str):
            return _bad_request("node must be a string")
        if not isinstance(stagger, bool):
            return _bad_request("stagger must be a boolean")
        emu = self.emu
        running, pending = emu.queue.get_current_queue()
        targets = [(item[1], item[3]["client_id"]) for item in running + pending
                   if isinstance(item[3], dict) and item[3].get("client_id") is not None]
        total = round(rate * seconds)
        if targets and total > 0:
            emu.spawn_background(_emit_progress(emu.hub, targets, rate, total, node, stagger))
        return web.json_response({"prompts": len(targets), "messages": len(targets) * total})


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bad_request(message):
    return web.json_response({"error": message}, status=400)


async def _emit_progress(hub, targets, rate, total, node, stagger=False):
    """Tick loop of emit_progress: tick i (1..total) sends one progress message per target, all
    at once, or with ``stagger`` spread evenly over the tick (target k at k/len(targets) of it)."""
    loop = asyncio.get_running_loop()
    interval = 1.0 / rate
    deadline = loop.time()
    try:
        for i in range(1, total + 1):
            for k, (prompt_id, client_id) in enumerate(targets):
                if stagger and k:
                    delay = deadline + k * interval / len(targets) - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                ws = hub.sockets.get(client_id)
                if ws is None or ws.closed:
                    continue
                head = json.dumps({"type": "progress", "data": {
                    "value": i, "max": total, "prompt_id": prompt_id, "node": node}})
                # head ends with the two closing braces of data and of the message
                text = head[:-2] + ', "sent_ns": ' + str(time.monotonic_ns()) + "}}"
                try:
                    await ws.send_str(text)
                except Exception as err:  # a socket closing under us is not an error here
                    log.debug("emit_progress send error: %s", err)
            if i == total:
                break
            # Absolute deadlines (no drift); when behind by a whole tick or more, the overdue
            # tick goes out at once and the schedule restarts from now (no catch-up burst).
            deadline = max(deadline + interval, loop.time())
            delay = deadline - loop.time()
            await asyncio.sleep(delay if delay > 0 else 0)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("emit_progress failed")
