"""Wiring: the Emulator object owns the state that ComfyUI keeps in memory and serves it.

``Emulator.start()`` binds host:port (port 0 = any free port), ``stop()`` shuts down, and
``restart()`` simulates a ComfyUI restart: sockets closed, queue/running prompt/history/caches/
sessions/feature flags/priority counter lost, temp emptied, other HTTP connections closed.
Background tasks of the test controls (emit_progress) are tracked here and cancelled by
``restart()`` and ``stop()``.
``start_in_thread()`` runs an emulator on a background event loop for in-process use.

``version`` picks the ComfyUI imitated ("0.3.64" or "0.33"; None = $COMFY_EMULATOR_VERSION,
else 0.3.64): ``self.profile`` (versions.Profile) holds its facts and behaviour switches and
``self.nodes`` its node set.
"""
import asyncio
import logging
import socket
import threading

from aiohttp import web

from .controls import ControlRoutes, CountingServer, make_request_middleware
from .execution import Worker
from .hub import Hub
from .jobs import JobRoutes
from .nodes import Interrupted, load_all, registry_for
from .paths import Paths
from .prompt_queue import PromptQueue
from .server import ComfyRoutes, make_cors_middleware, make_empty_404_middleware, make_origin_middleware
from .versions import profile_for

log = logging.getLogger("comfy_emulator")


class Emulator:
    def __init__(self, root, host="127.0.0.1", port=0, enable_cors_header=None,
                 max_upload_size=100, disable_metadata=False, version=None):
        load_all()
        self.profile = profile_for(version)
        self.version = self.profile.version
        self.nodes = registry_for(self.profile.node_set)
        self.paths = Paths(root)
        self.host = host
        self.port = port
        self.enable_cors_header = enable_cors_header
        self.max_upload_size = max_upload_size
        self.disable_metadata = disable_metadata
        self.argv = ["main.py", "--cpu"]
        self.stats = {"connections_accepted": 0, "connections_open": 0, "requests": 0}
        self.faults = {"hang": [], "reset": [], "status": {}}
        self.open_websockets = {}
        self.refuse_connections = False
        self.paused = False
        self.runner = None
        self.worker_task = None
        self.background_tasks = set()

    # -- state shared with handlers / executor ---------------------------------------------
    def _reset_state(self):
        self.queue = PromptQueue(self.queue_updated, self.wakeup)
        self.worker = Worker(self)
        self.number = 0
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.interrupt_flag = False

    def features(self):
        """/features and the WebSocket feature_flags reply (0.33 adds keys, in wire order)."""
        features = {"supports_preview_metadata": True}
        extra = dict(self.profile.extra_features)
        if "supports_model_type_tags" in extra:
            features["supports_model_type_tags"] = extra.pop("supports_model_type_tags")
        features["max_upload_size"] = self.max_upload_size * 1024 * 1024
        features.update(extra)
        return features

    def get_queue_info(self):
        return {"exec_info": {"queue_remaining": self.queue.get_tasks_remaining()}}

    def queue_updated(self):
        self.hub.send_sync("status", {"status": self.get_queue_info()})

    def interrupt(self):
        self.interrupt_flag = True

    def throw_if_interrupted(self):
        if self.interrupt_flag:
            self.interrupt_flag = False
            raise Interrupted()

    def set_paused(self, paused):
        self.paused = paused
        self.wakeup.set()

    def drop_sockets(self):
        transports = list(self.open_websockets.values())
        for t in transports:
            if t is not None:
                t.abort()
        return len(transports)

    def spawn_background(self, coro):
        """Run a control's background coroutine; restart() and stop() cancel it."""
        task = asyncio.get_running_loop().create_task(coro)
        self.background_tasks.add(task)
        task.add_done_callback(self.background_tasks.discard)
        return task

    async def stop_background(self):
        tasks = list(self.background_tasks)
        self.background_tasks.clear()
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- lifecycle -------------------------------------------------------------------------
    def build_app(self):
        middlewares = [make_request_middleware(self)]
        if self.enable_cors_header:
            middlewares.append(make_cors_middleware(self.enable_cors_header))
        else:
            middlewares.append(make_origin_middleware(self.profile.sec_fetch_site_check))
        if self.profile.empty_404:
            middlewares.append(make_empty_404_middleware())
        app = web.Application(client_max_size=round(self.max_upload_size * 1024 * 1024),
                              middlewares=middlewares)
        extra_routes = JobRoutes(self).table() if self.profile.jobs_api else []
        ComfyRoutes(self, extra_routes).register(app)
        ControlRoutes(self).register(app)
        return app

    async def start(self):
        self.paths.create()
        self.paths.empty_temp()
        self.wakeup = asyncio.Event()
        self.hub = Hub(self.features)
        self.hub.start()
        self._reset_state()
        self.worker_task = asyncio.get_running_loop().create_task(self.worker.run())

        self.runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=1.0)
        await self.runner.setup()
        self.runner.server.__class__ = CountingServer
        self.runner.server.emu = self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self.argv = ["main.py", "--cpu", "--listen", self.host, "--port", str(self.port)]
        site = web.SockSite(self.runner, sock)
        await site.start()
        return self.port

    async def _stop_worker(self):
        if self.worker_task is not None:
            self.worker_task.cancel()
            try:
                await self.worker_task
            except (asyncio.CancelledError, Exception):
                pass
            self.worker_task = None

    async def stop(self):
        await self.stop_background()
        await self._stop_worker()
        self.drop_sockets()
        await self.hub.stop()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        self.paths.empty_temp()

    async def restart(self, keep=None, down_ms=0):
        """Simulate a ComfyUI restart (no terminal messages for lost prompts)."""
        await self.stop_background()
        transports = list(self.open_websockets.values())
        self.hub.reset()
        for t in transports:
            if t is not None:
                t.abort()
        await self._stop_worker()
        self._reset_state()
        self.paths.empty_temp()
        if self.runner is not None and self.runner.server is not None:
            for handler in self.runner.server.connections:
                t = handler.transport
                if t is not None and t is not keep and t not in transports:
                    t.abort()
        if down_ms > 0:
            self.refuse_connections = True
            asyncio.get_running_loop().call_later(down_ms / 1000.0, self._end_downtime)
        self.worker_task = asyncio.get_running_loop().create_task(self.worker.run())

    def _end_downtime(self):
        self.refuse_connections = False


def start_in_thread(root, host="127.0.0.1", **kwargs):
    """Run an emulator on a background thread. Returns (emulator, port, stop_function).

    ``kwargs`` are Emulator's (``version="0.33"``, ``max_upload_size`` ...); an unknown
    version raises versions.UnknownVersion here, before any thread starts."""
    profile_for(kwargs.get("version"))
    ready = threading.Event()
    box = {}

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        emu = Emulator(root, host=host, **kwargs)
        box["emu"], box["loop"] = emu, loop
        box["port"] = loop.run_until_complete(emu.start())
        box["stop"] = asyncio.Event()
        ready.set()
        loop.run_until_complete(box["stop"].wait())
        loop.run_until_complete(emu.stop())
        loop.close()

    thread = threading.Thread(target=run, name="comfy-emulator", daemon=True)
    thread.start()
    ready.wait(10)

    def stop():
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)

    return box["emu"], box["port"], stop
