"""The aiohttp application: ComfyUI 0.3.64's routes, each also under /api, and middlewares.

Handlers follow server.py of ComfyUI statement by statement where the behaviour is visible
to a client: unguarded ``request.json()`` (malformed JSON -> aiohttp's 500 text page), empty
200/400/403/404 bodies without a content type, the /view and /upload path checks, and the
Host/Origin loopback check (or the CORS headers with --enable-cors-header).

0.33 mode (see versions.Profile) changes: the Sec-Fetch-Site check, HEAD on GET routes, the
empty 404 of unknown paths, /features and /system_stats contents, canonical prompt ids and
``extra_data.create_time`` in POST /prompt, and the /view hardening (view_safety.py); the
/api/jobs routes (jobs.py) join the route table and get the same /api alias as the others.
"""
import hashlib
import ipaddress
import json
import logging
import mimetypes
import os
import socket
import sys
import time
import urllib.parse
import uuid
from io import BytesIO

from aiohttp import WSMsgType, web
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from .jobs import is_canonical_uuid
from .nodes import node_info
from .validation import validate_prompt
from .view_safety import file_headers

log = logging.getLogger("comfy_emulator.server")
INVALID_PROMPT_ID = {
    "type": "invalid_prompt_id",
    "message": "prompt_id must be a valid UUID",
    "details": "prompt_id must be a UUID string in canonical lowercase hyphenated form; "
               "omit it to let the server generate one",
    "extra_info": {},
}
MODEL_FOLDERS = ["checkpoints", "configs", "loras", "vae", "text_encoders", "diffusion_models",
                 "clip_vision", "style_models", "embeddings", "diffusers", "vae_approx", "controlnet",
                 "gligen", "upscale_models", "custom_nodes", "hypernetworks", "photomaker", "classifiers"]


def is_loopback(host):
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    loopback = False
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            for _, _, _, _, sockaddr in socket.getaddrinfo(host, None, family, socket.SOCK_STREAM):
                if not ipaddress.ip_address(sockaddr[0]).is_loopback:
                    return loopback
                loopback = True
        except socket.gaierror:
            pass
    return loopback


def origin_rejected(request):
    """True when Host is loopback and Host/Origin host[:port] differ (server.py)."""
    if "Host" not in request.headers or "Origin" not in request.headers:
        return False
    host_domain = request.headers["Host"].lower()
    parsed = urllib.parse.urlparse(request.headers["Origin"])
    origin_domain = parsed.netloc.lower()
    host_parsed = urllib.parse.urlsplit("//" + host_domain)
    loopback = is_loopback(host_parsed.hostname)
    if parsed.port is None:
        host_domain = host_parsed.hostname
    if host_parsed.port is None:
        origin_domain = parsed.hostname
    if loopback and host_domain and origin_domain:
        return host_domain != origin_domain
    return False


def cross_site(request):
    """0.33: a browser's Sec-Fetch-Site: cross-site is refused whatever the Origin says."""
    return request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site"


def make_origin_middleware(sec_fetch_site_check=False):
    @web.middleware
    async def origin_only_middleware(request, handler):
        if request.path.startswith("/__emulator/"):
            return await handler(request)
        if sec_fetch_site_check and cross_site(request):
            log.warning("cross-site request (Sec-Fetch-Site), returning 403")
            return web.Response(status=403)
        if origin_rejected(request):
            log.warning("request with non matching host and origin, returning 403")
            return web.Response(status=403)
        if request.method == "OPTIONS":
            return web.Response()
        return await handler(request)
    return origin_only_middleware


def make_empty_404_middleware():
    """0.33: a path no route matches gets 404 with an empty chunked application/octet-stream
    body (recorded for GET /jobs) instead of aiohttp's "404: Not Found" text."""
    @web.middleware
    async def empty_404_middleware(request, handler):
        try:
            return await handler(request)
        except web.HTTPNotFound:
            if getattr(request.match_info, "http_exception", None) is None:
                raise  # a route's own 404
            response = web.StreamResponse(status=404)
            await response.prepare(request)
            await response.write_eof()
            return response
    return empty_404_middleware


def make_cors_middleware(allowed_origin):
    @web.middleware
    async def cors_middleware(request, handler):
        if request.method == "OPTIONS":
            response = web.Response()
        else:
            response = await handler(request)
        response.headers["Access-Control-Allow-Origin"] = allowed_origin
        response.headers["Access-Control-Allow-Methods"] = "POST, GET, DELETE, PUT, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
        response.headers["Access-Control-Allow-Credentials"] = "true"
        return response
    return cors_middleware


def _ram():
    total = free = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    total = int(line.split()[1]) * 1024
                elif line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
    except OSError:
        pass
    return total, free


class ComfyRoutes:
    def __init__(self, emu, extra_routes=()):
        self.emu = emu
        self.extra_routes = list(extra_routes)   # (method, path, handler), e.g. jobs.JobRoutes

    # -- registration --------------------------------------------------------------------
    def table(self):
        return [
            ("GET", "/ws", self.websocket_handler),
            ("GET", "/embeddings", self.get_embeddings),
            ("GET", "/models", self.list_model_types),
            ("GET", "/models/{folder}", self.get_models),
            ("GET", "/extensions", self.get_extensions),
            ("POST", "/upload/image", self.upload_image),
            ("POST", "/upload/mask", self.upload_mask),
            ("GET", "/view", self.view_image),
            ("GET", "/view_metadata/{folder_name}", self.view_metadata),
            ("GET", "/system_stats", self.system_stats),
            ("GET", "/features", self.get_features),
            ("GET", "/prompt", self.get_prompt),
            ("GET", "/object_info", self.get_object_info),
            ("GET", "/object_info/{node_class}", self.get_object_info_node),
            ("GET", "/history", self.get_history),
            ("GET", "/history/{prompt_id}", self.get_history_prompt_id),
            ("GET", "/queue", self.get_queue),
            ("POST", "/prompt", self.post_prompt),
            ("POST", "/queue", self.post_queue),
            ("POST", "/interrupt", self.post_interrupt),
            ("POST", "/free", self.post_free),
            ("POST", "/history", self.post_history),
        ] + self.extra_routes

    def register(self, app):
        # ComfyUI declares routes with aiohttp's RouteTableDef, whose GET routes also answer
        # HEAD; the 0.3.64 emulator's table routes never did (405), 0.33 mode's do.
        head = self.emu.profile.head_requests
        for prefix in ("", "/api"):
            for method, path, handler in self.table():
                if method == "GET" and head:
                    app.router.add_get(prefix + path, handler)
                else:
                    app.router.add_route(method, prefix + path, handler)
        app.router.add_get("/", self.index)

    # -- websocket -------------------------------------------------------------------------
    async def websocket_handler(self, request):
        emu, hub = self.emu, self.emu.hub
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        epoch = hub.epoch
        sid = request.rel_url.query.get("clientId", "")
        if sid:
            hub.sockets.pop(sid, None)
        else:
            sid = uuid.uuid4().hex
        hub.sockets[sid] = ws
        hub.sockets_metadata[sid] = {"feature_flags": {}}
        emu.open_websockets[ws] = request.transport
        try:
            await hub.send("status", {"status": emu.get_queue_info(), "sid": sid}, sid)
            if emu.client_id == sid and emu.last_node_id is not None:
                await hub.send("executing", {"node": emu.last_node_id}, sid)
            first_message = True
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        data = json.loads(msg.data)
                        if first_message and data.get("type") == "feature_flags":
                            hub.sockets_metadata[sid]["feature_flags"] = data.get("data", {})
                            await hub.send("feature_flags", emu.features(), sid)
                        first_message = False
                    except json.JSONDecodeError:
                        log.warning("Invalid JSON received from client %s", sid)
                    except Exception as e:
                        log.error("Error processing WebSocket message: %s", e)
        finally:
            if epoch == hub.epoch:
                hub.sockets.pop(sid, None)
                hub.sockets_metadata.pop(sid, None)
            emu.open_websockets.pop(ws, None)
        return ws

    # -- small routes ----------------------------------------------------------------------
    async def index(self, request):
        return web.Response(text="<html><body>ComfyUI emulator</body></html>", content_type="text/html")

    async def get_embeddings(self, request):
        return web.json_response([])

    async def list_model_types(self, request):
        return web.json_response(MODEL_FOLDERS)

    async def get_models(self, request):
        if request.match_info.get("folder") not in MODEL_FOLDERS:
            return web.Response(status=404)
        return web.json_response([])

    async def get_extensions(self, request):
        return web.json_response([])

    async def view_metadata(self, request):
        return web.Response(status=404)

    async def system_stats(self, request):
        total, free = _ram()
        profile = self.emu.profile
        system = {
            "os": profile.os_name,
            "ram_total": total,
            "ram_free": free,
            "comfyui_version": profile.comfyui_version,
            "required_frontend_version": profile.frontend_version,
            "installed_templates_version": profile.templates_version,
            "required_templates_version": profile.templates_version,
        }
        if profile.package_versions:
            system["comfy_package_versions"] = [{"name": name, "installed": version, "required": version}
                                                for name, version in profile.package_versions]
        system.update({
            "python_version": sys.version,
            "pytorch_version": profile.pytorch_version,
            "embedded_python": False,
        })
        if profile.deploy_environment is not None:
            system["deploy_environment"] = profile.deploy_environment
        system["argv"] = self.emu.argv
        return web.json_response({
            "system": system,
            "devices": [{
                "name": "cpu", "type": "cpu", "index": None,
                "vram_total": total, "vram_free": free,
                "torch_vram_total": total, "torch_vram_free": free,
            }],
        })

    async def get_features(self, request):
        return web.json_response(self.emu.features())

    async def get_prompt(self, request):
        return web.json_response(self.emu.get_queue_info())

    async def get_object_info(self, request):
        out = {}
        for name, cls in self.emu.nodes.items():
            try:
                out[name] = node_info(cls, self.emu)
            except Exception:
                log.exception("object_info failed for %s", name)
        return web.json_response(out)

    async def get_object_info_node(self, request):
        node_class = request.match_info.get("node_class", None)
        out = {}
        if node_class is not None and node_class in self.emu.nodes:
            out[node_class] = node_info(self.emu.nodes[node_class], self.emu)
        return web.json_response(out)

    # -- history / queue -------------------------------------------------------------------
    async def get_history(self, request):
        max_items = request.rel_url.query.get("max_items", None)
        if max_items is not None:
            max_items = int(max_items)
        offset = request.rel_url.query.get("offset", None)
        offset = int(offset) if offset is not None else -1
        return web.json_response(self.emu.queue.get_history(max_items=max_items, offset=offset))

    async def get_history_prompt_id(self, request):
        prompt_id = request.match_info.get("prompt_id", None)
        return web.json_response(self.emu.queue.get_history(prompt_id=prompt_id))

    async def get_queue(self, request):
        running, pending = self.emu.queue.get_current_queue()
        return web.json_response({"queue_running": running, "queue_pending": pending})

    async def post_prompt(self, request):
        emu = self.emu
        json_data = await request.json()
        if "number" in json_data:
            number = float(json_data["number"])
        else:
            number = emu.number
            if "front" in json_data:
                if json_data["front"]:
                    number = -number
            emu.number += 1

        if "prompt" in json_data:
            prompt = json_data["prompt"]
            if emu.profile.canonical_prompt_ids:
                prompt_id = json_data.get("prompt_id")
                if prompt_id is None:  # absent or null: the server mints one
                    prompt_id = str(uuid.uuid4())
                elif not is_canonical_uuid(prompt_id):
                    return web.json_response({"error": INVALID_PROMPT_ID, "node_errors": {}}, status=400)
            else:
                prompt_id = str(json_data.get("prompt_id", uuid.uuid4()))
            partial = json_data["partial_execution_targets"] if "partial_execution_targets" in json_data else None
            valid = validate_prompt(emu, prompt, partial)
            extra_data = {}
            if "extra_data" in json_data:
                extra_data = json_data["extra_data"]
            if "client_id" in json_data:
                extra_data["client_id"] = json_data["client_id"]
            if emu.profile.create_time and isinstance(extra_data, dict):
                extra_data["create_time"] = int(time.time() * 1000)
            if valid[0]:
                emu.queue.put([number, prompt_id, prompt, extra_data, valid[2]])
                return web.json_response({"prompt_id": prompt_id, "number": number, "node_errors": valid[3]})
            log.warning("invalid prompt: %s", valid[1])
            return web.json_response({"error": valid[1], "node_errors": valid[3]}, status=400)
        error = {"type": "no_prompt", "message": "No prompt provided", "details": "No prompt provided",
                 "extra_info": {}}
        return web.json_response({"error": error, "node_errors": {}}, status=400)

    async def post_queue(self, request):
        json_data = await request.json()
        if "clear" in json_data:
            if json_data["clear"]:
                self.emu.queue.wipe_queue()
        if "delete" in json_data:
            for id_to_delete in json_data["delete"]:
                self.emu.queue.delete_queue_item(lambda a, i=id_to_delete: a[1] == i)
        return web.Response(status=200)

    async def post_interrupt(self, request):
        try:
            json_data = await request.json()
        except json.JSONDecodeError:
            json_data = {}
        prompt_id = json_data.get("prompt_id")
        if prompt_id:
            running, _ = self.emu.queue.get_current_queue()
            if any(item[1] == prompt_id for item in running):
                log.info("Interrupting prompt %s", prompt_id)
                self.emu.interrupt()
            else:
                log.info("Prompt %s is not currently running, skipping interrupt", prompt_id)
        else:
            log.info("Global interrupt (no prompt_id specified)")
            self.emu.interrupt()
        return web.Response(status=200)

    async def post_free(self, request):
        json_data = await request.json()
        unload_models = json_data.get("unload_models", False)
        free_memory = json_data.get("free_memory", False)
        if unload_models:
            self.emu.queue.set_flag("unload_models", unload_models)
        if free_memory:
            self.emu.queue.set_flag("free_memory", free_memory)
        return web.Response(status=200)

    async def post_history(self, request):
        json_data = await request.json()
        if "clear" in json_data:
            if json_data["clear"]:
                self.emu.queue.wipe_history()
        if "delete" in json_data:
            for id_to_delete in json_data["delete"]:
                self.emu.queue.delete_history_item(id_to_delete)
        return web.Response(status=200)

    # -- files -----------------------------------------------------------------------------
    def get_dir_by_type(self, dir_type):
        if dir_type is None:
            dir_type = "input"
        type_dir = self.emu.paths.get_directory_by_type(dir_type)
        if type_dir is None:  # ComfyUI hits an UnboundLocalError here -> 500
            raise UnboundLocalError("cannot access local variable 'type_dir'")
        return type_dir, dir_type

    def image_upload(self, post, image_save_function=None):
        image = post.get("image")
        overwrite = post.get("overwrite")
        image_is_duplicate = False
        upload_dir, image_upload_type = self.get_dir_by_type(post.get("type"))

        if image and image.file:
            filename = image.filename
            if not filename:
                return web.Response(status=400)
            subfolder = post.get("subfolder", "")
            full_output_folder = os.path.join(upload_dir, os.path.normpath(subfolder))
            filepath = os.path.abspath(os.path.join(full_output_folder, filename))
            if os.path.commonpath((upload_dir, filepath)) != upload_dir:
                return web.Response(status=400)
            if not os.path.exists(full_output_folder):
                os.makedirs(full_output_folder)
            split = os.path.splitext(filename)
            if overwrite is not None and (overwrite == "true" or overwrite == "1"):
                pass
            else:
                i = 1
                while os.path.exists(filepath):
                    if _same_content(filepath, image):
                        image_is_duplicate = True
                        break
                    filename = f"{split[0]} ({i}){split[1]}"
                    filepath = os.path.join(full_output_folder, filename)
                    i += 1
            if image_save_function is not None:
                image_save_function(image, post, filepath)
            elif not image_is_duplicate:
                with open(filepath, "wb") as f:
                    f.write(image.file.read())
            return web.json_response({"name": filename, "subfolder": subfolder, "type": image_upload_type})
        return web.Response(status=400)

    async def upload_image(self, request):
        post = await request.post()
        return self.image_upload(post)

    async def upload_mask(self, request):
        post = await request.post()
        paths = self.emu.paths

        def image_save_function(image, post, filepath):
            original_ref = json.loads(post.get("original_ref"))
            filename, output_dir = paths.annotated_filepath(original_ref["filename"])
            if not filename or filename[0] == "/" or ".." in filename:
                return
            if output_dir is None:
                output_dir = paths.get_directory_by_type(original_ref.get("type", "output"))
            if output_dir is None:
                return
            if original_ref.get("subfolder", "") != "":
                full_output_dir = os.path.join(output_dir, original_ref["subfolder"])
                if os.path.commonpath((os.path.abspath(full_output_dir), output_dir)) != output_dir:
                    return
                output_dir = full_output_dir
            file = os.path.join(output_dir, filename)
            if os.path.isfile(file):
                with Image.open(file) as original_pil:
                    metadata = PngInfo()
                    for key, value in getattr(original_pil, "text", {}).items():
                        metadata.add_text(key, value)
                    original_pil = original_pil.convert("RGBA")
                    mask_pil = Image.open(image.file).convert("RGBA")
                    original_pil.putalpha(mask_pil.getchannel("A"))
                    original_pil.save(filepath, compress_level=4, pnginfo=metadata)

        return self.image_upload(post, image_save_function)

    async def view_image(self, request):
        query = request.rel_url.query
        paths = self.emu.paths
        if "filename" in query:
            filename, output_dir = paths.annotated_filepath(query["filename"])
            if not filename:
                return web.Response(status=400)
            if filename[0] == "/" or ".." in filename:
                return web.Response(status=400)
            if output_dir is None:
                output_dir = paths.get_directory_by_type(query.get("type", "output"))
            if output_dir is None:
                return web.Response(status=400)
            if "subfolder" in query:
                full_output_dir = os.path.join(output_dir, query["subfolder"])
                if os.path.commonpath((os.path.abspath(full_output_dir), output_dir)) != output_dir:
                    return web.Response(status=403)
                output_dir = full_output_dir
            filename = os.path.basename(filename)
            file = os.path.join(output_dir, filename)
            if os.path.isfile(file):
                disposition = {"Content-Disposition": f"filename=\"{filename}\""}
                if self.emu.profile.view_hardening:
                    disposition = {"X-Content-Type-Options": "nosniff", **disposition}
                if "preview" in query:
                    with Image.open(file) as img:
                        preview_info = query["preview"].split(";")
                        image_format = preview_info[0]
                        if image_format not in ["webp", "jpeg"] or "a" in query.get("channel", ""):
                            image_format = "webp"
                        quality = 90
                        if preview_info[-1].isdigit():
                            quality = int(preview_info[-1])
                        buffer = BytesIO()
                        if image_format in ["jpeg"] or query.get("channel", "") == "rgb":
                            img = img.convert("RGB")
                        img.save(buffer, format=image_format, quality=quality)
                        return web.Response(body=buffer.getvalue(), content_type=f"image/{image_format}",
                                            headers=disposition)
                channel = query.get("channel", "rgba")
                if channel == "rgb":
                    with Image.open(file) as img:
                        if img.mode == "RGBA":
                            r, g, b, a = img.split()
                            new_img = Image.merge("RGB", (r, g, b))
                        else:
                            new_img = img.convert("RGB")
                        buffer = BytesIO()
                        new_img.save(buffer, format="PNG")
                        return web.Response(body=buffer.getvalue(), content_type="image/png", headers=disposition)
                if channel == "a":
                    with Image.open(file) as img:
                        if img.mode == "RGBA":
                            a = img.split()[3]
                        else:
                            a = Image.new("L", img.size, 255)
                        alpha_img = Image.new("RGBA", img.size)
                        alpha_img.putalpha(a)
                        buffer = BytesIO()
                        alpha_img.save(buffer, format="PNG")
                        return web.Response(body=buffer.getvalue(), content_type="image/png", headers=disposition)
                content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
                if self.emu.profile.view_hardening:
                    return web.FileResponse(file, headers=file_headers(
                        filename, content_type, request.headers.get("Sec-Fetch-Dest")))
                if content_type in {"text/html", "text/html-sandboxed", "application/xhtml+xml",
                                    "text/javascript", "text/css"}:
                    content_type = "application/octet-stream"
                return web.FileResponse(file, headers={"Content-Disposition": f"filename=\"{filename}\"",
                                                       "Content-Type": content_type})
        return web.Response(status=404)


def _same_content(filepath, image):
    """compare_image_hash: sha256 of the stored file vs the uploaded part."""
    a, b = hashlib.sha256(), hashlib.sha256()
    with open(filepath, "rb") as f:
        a.update(f.read())
    b.update(image.file.read())
    image.file.seek(0)
    return a.hexdigest() == b.hexdigest()

