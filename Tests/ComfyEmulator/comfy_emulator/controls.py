"""Test-only controls under /__emulator/ (never aliased under /api), connection counting and
fault injection.

* CountingServer: an aiohttp ``web.Server`` whose connection_made/connection_lost count real
  TCP connections (accepted and currently open), so tests can prove keep-alive reuse.
* request/fault middlewares: count every HTTP request; inject ``hang`` (accept the request and
  never answer), ``reset`` (send a status line, headers and part of a body, then abort the TCP
  connection with RST) and ``status`` (answer that status with a small text body) for the
  configured paths, matched after stripping a leading /api.
* routes: drop_sockets, pause, restart, stats, faults.
"""
import asyncio
import socket
import struct

from aiohttp import web

PREFIX = "/__emulator"


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
