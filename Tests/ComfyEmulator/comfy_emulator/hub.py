"""WebSocket sessions and the single FIFO that carries every worker message to sockets.

Mirrors PromptServer: ``sockets`` maps session id -> WebSocketResponse (a reconnect with the
same clientId replaces the entry, the old socket stays open but gets nothing), per-session
feature flags, ``send_sync`` enqueues ``(event, data, sid)`` and one publisher task sends them
in order, awaiting each socket in turn. ``sid=None`` means every socket; a sid with no socket
drops the message. Binary events are encoded here (types 1, 3 and 4; type 2 is internal).
"""
import asyncio
import json
import logging
import struct

from .media import encode_preview

PREVIEW_IMAGE = 1
UNENCODED_PREVIEW_IMAGE = 2
TEXT = 3
PREVIEW_IMAGE_WITH_METADATA = 4

log = logging.getLogger("comfy_emulator.hub")


class Hub:
    def __init__(self, server_features):
        self.server_features = server_features
        self.sockets = {}
        self.sockets_metadata = {}
        self.messages = asyncio.Queue()
        self.epoch = 0
        self._task = None

    # -- session registry -------------------------------------------------------------
    def supports_preview_metadata(self, sid):
        if sid is None or sid not in self.sockets_metadata:
            return False
        flags = self.sockets_metadata[sid].get("feature_flags", {})
        return flags.get("supports_preview_metadata", False) is True

    def reset(self):
        """Forget every session and every queued message (used by restart)."""
        self.epoch += 1
        self.sockets.clear()
        self.sockets_metadata.clear()
        while not self.messages.empty():
            self.messages.get_nowait()

    # -- sending -------------------------------------------------------------------------
    def send_sync(self, event, data, sid=None):
        self.messages.put_nowait((self.epoch, event, data, sid))

    def start(self):
        self._task = asyncio.get_running_loop().create_task(self._publish_loop())

    async def stop(self):
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _publish_loop(self):
        while True:
            epoch, event, data, sid = await self.messages.get()
            if epoch != self.epoch:
                continue
            try:
                await self.send(event, data, sid)
            except Exception:  # never let one bad message stop the publisher
                log.exception("failed to publish %s", event)

    async def send(self, event, data, sid=None):
        if event == UNENCODED_PREVIEW_IMAGE:
            fmt, image, max_size = data
            type_num = 2 if fmt == "PNG" else 1
            payload = struct.pack(">I", type_num) + encode_preview(image, fmt, max_size)
            await self.send_bytes(PREVIEW_IMAGE, payload, sid)
        elif event == PREVIEW_IMAGE_WITH_METADATA:
            (fmt, image, max_size), metadata = data
            metadata = dict(metadata or {})
            metadata["image_type"] = "image/png" if fmt == "PNG" else "image/jpeg"
            meta = json.dumps(metadata).encode("utf-8")
            payload = struct.pack(">I", len(meta)) + meta + encode_preview(image, fmt, max_size)
            await self.send_bytes(PREVIEW_IMAGE_WITH_METADATA, payload, sid)
        elif isinstance(data, (bytes, bytearray)):
            await self.send_bytes(event, data, sid)
        else:
            await self.send_json(event, data, sid)

    def _targets(self, sid):
        if sid is None:
            return list(self.sockets.values())
        ws = self.sockets.get(sid)
        return [ws] if ws is not None else []

    async def send_bytes(self, event, data, sid=None):
        message = struct.pack(">I", event) + bytes(data)
        for ws in self._targets(sid):
            await _send_catch(ws.send_bytes, message)

    async def send_json(self, event, data, sid=None):
        message = {"type": event, "data": data}
        for ws in self._targets(sid):
            await _send_catch(ws.send_str, json.dumps(message))

    def send_progress_text(self, text, node_id, sid=None):
        if isinstance(text, str):
            text = text.encode("utf-8")
        node_id_bytes = str(node_id).encode("utf-8")
        self.send_sync(TEXT, struct.pack(">I", len(node_id_bytes)) + node_id_bytes + text, sid)


async def _send_catch(fn, message):
    try:
        await fn(message)
    except Exception as err:
        log.debug("send error: %s", err)
