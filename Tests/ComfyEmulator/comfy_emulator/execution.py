"""The executor and the worker: one prompt at a time, like ComfyUI's prompt_worker thread.

* ExecutionList reproduces comfy_execution.graph's ordering (DFS insertion from each output,
  then ``ux_friendly_pick_node``: ready output nodes first, then nodes that unblock an output,
  then nodes two steps away from one).
* The cache is the "classic" one: node results keyed by a signature made of class type,
  IS_CHANGED result, literal inputs and the ancestors' signatures (never the node id, except
  for nodes with a UNIQUE_ID hidden input); only entries whose signature occurs in the new
  prompt survive, i.e. the most recent prompt's results.
* With ``Profile.reuse_node_objects`` (0.33 mode) a node instance is kept while the next
  prompts still have a node of that id and class (ComfyUI's object cache), so e.g. a
  PreviewImage keeps its temp-file prefix; otherwise every execution gets a new instance.
* The ProgressRegistry sends ``progress_state`` snapshots and type-4 previews.
* Events follow execution.py: execution_start, execution_cached, per node progress_state /
  executing / progress / executed, then execution_success | execution_error |
  execution_interrupted (all recorded with a ms ``timestamp`` for the history).
"""
import asyncio
import inspect
import logging
import sys
import time
import traceback

from . import hub as hubmod
from .nodes import Interrupted, get_input_info
from .validation import full_type_name, is_link

log = logging.getLogger("comfy_emulator.execution")

SUCCESS, FAILURE = "success", "failure"


class CacheEntry:
    __slots__ = ("outputs", "ui")

    def __init__(self, outputs, ui):
        self.outputs = outputs
        self.ui = ui


def _freeze(value):
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), _freeze(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_freeze(v) for v in value))
    try:
        hash(value)
        return value
    except TypeError:
        return ("repr", repr(value))


def compute_signatures(env, prompt):
    """node id -> hashable signature (CacheKeySetInputSignature equivalent)."""
    memo = {}
    busy = set()

    def is_changed(nid, cls, inputs):
        if not cls.HAS_IS_CHANGED:
            return None
        literal = {k: v for k, v in inputs.items() if not is_link(v)}
        try:
            value = cls.is_changed(env, **literal)
        except Exception:
            return object()  # ComfyUI uses NaN: never equal, never cached
        if isinstance(value, float) and value != value:
            return object()
        return _freeze(value)

    def sig(nid):
        if nid in memo:
            return memo[nid]
        if nid in busy or nid not in prompt:
            return object()
        busy.add(nid)
        node = prompt[nid]
        cls = env.nodes[node["class_type"]]
        inputs = node.get("inputs", {})
        parts = [node["class_type"], is_changed(nid, cls, inputs)]
        hidden = cls.input_types(env).get("hidden", {})
        if "UNIQUE_ID" in hidden.values():
            parts.append(("node_id", nid))
        for key in sorted(inputs):
            value = inputs[key]
            if is_link(value):
                parts.append((key, ("link", sig(value[0]), value[1])))
            else:
                parts.append((key, _freeze(value)))
        busy.discard(nid)
        memo[nid] = tuple(parts)
        return memo[nid]

    return {nid: sig(nid) for nid in prompt}


class ExecutionList:
    """comfy_execution.graph.ExecutionList (without lazy inputs / subgraphs / async nodes)."""

    def __init__(self, prompt, is_cached, nodes):
        self.prompt = prompt
        self.is_cached = is_cached
        self.nodes = nodes
        self.pending = {}
        self.block_count = {}
        self.blocking = {}
        self.staged = None

    def add_node(self, node_id):
        stack = [node_id]
        links = []
        while stack:
            uid = stack.pop()
            if uid in self.pending:
                continue
            self.pending[uid] = True
            self.block_count[uid] = 0
            self.blocking[uid] = {}
            for value in self.prompt[uid]["inputs"].values():
                if is_link(value):
                    src = value[0]
                    if not self.is_cached(src):
                        stack.append(src)
                    links.append((src, value[1], uid))
        for src, socket, dst in links:
            self.add_strong_link(src, socket, dst)

    def add_strong_link(self, src, socket, dst):
        if not self.is_cached(src):
            self.add_node(src)
            if dst not in self.blocking[src]:
                self.blocking[src][dst] = {}
                self.block_count[dst] += 1
            self.blocking[src][dst][socket] = True

    def is_empty(self):
        return len(self.pending) == 0

    def _is_output(self, nid):
        return self.nodes[self.prompt[nid]["class_type"]].OUTPUT_NODE is True

    def _pick(self, ready):
        for nid in ready:
            if self._is_output(nid):
                return nid
        for nid in ready:
            for blocked in self.blocking[nid]:
                if self._is_output(blocked):
                    return nid
        for nid in ready:
            for blocked in self.blocking[nid]:
                for blocked1 in self.blocking[blocked]:
                    if self._is_output(blocked1):
                        return nid
        return ready[0]

    def stage(self):
        ready = [nid for nid in self.pending if self.block_count[nid] == 0]
        if not ready:
            blamed = next(iter(self.pending))
            return None, {
                "node_id": blamed,
                "exception_message": "Dependency cycle detected",
                "exception_type": "graph.DependencyCycleError",
                "traceback": [],
                "current_inputs": [],
            }
        self.staged = self._pick(ready)
        return self.staged, None

    def complete(self):
        nid = self.staged
        del self.pending[nid]
        for blocked in self.blocking[nid]:
            self.block_count[blocked] -= 1
        del self.blocking[nid]
        self.staged = None


class ProgressRegistry:
    """comfy_execution.progress: per-prompt node states and the WebUI progress handler."""

    def __init__(self, env, prompt_id):
        self.env = env
        self.prompt_id = prompt_id
        self.nodes = {}

    def _entry(self, nid):
        if nid not in self.nodes:
            self.nodes[nid] = {"state": "pending", "value": 0, "max": 1}
        return self.nodes[nid]

    def _send_state(self):
        active = {
            nid: {
                "value": st["value"], "max": st["max"], "state": st["state"],
                "node_id": nid, "prompt_id": self.prompt_id, "display_node_id": nid,
                "parent_node_id": None, "real_node_id": nid,
            }
            for nid, st in self.nodes.items() if st["state"] != "pending"
        }
        self.env.hub.send_sync("progress_state", {"prompt_id": self.prompt_id, "nodes": active},
                               self.env.client_id)

    def start(self, nid):
        e = self._entry(nid)
        e.update(state="running", value=0.0, max=1.0)
        self._send_state()

    def update(self, nid, value, max_value, image=None):
        e = self._entry(nid)
        e.update(state="running", value=value, max=max_value)
        self._send_state()
        if image is not None and self.env.hub.supports_preview_metadata(self.env.client_id):
            metadata = {"node_id": nid, "prompt_id": self.prompt_id, "display_node_id": nid,
                        "parent_node_id": None, "real_node_id": nid}
            self.env.hub.send_sync(hubmod.PREVIEW_IMAGE_WITH_METADATA, (image, metadata), self.env.client_id)

    def finish(self, nid):
        e = self._entry(nid)
        e["state"] = "finished"
        e["value"] = e["max"]
        self._send_state()


class NodeContext:
    """What a running node can use: env, ids, hidden values, progress, text frames, interrupts."""

    def __init__(self, env, registry, prompt_id, unique_id, prompt, extra_data):
        self.env = env
        self.registry = registry
        self.prompt_id = prompt_id
        self.unique_id = unique_id
        self.prompt = prompt
        self.extra_pnginfo = extra_data.get("extra_pnginfo") if isinstance(extra_data, dict) else None

    def check_interrupt(self):
        self.env.throw_if_interrupted()

    def progress(self, value, total, preview=None):
        """ProgressBar.update_absolute + main.hijack_progress's hook."""
        if value > total:
            value = total
        self.env.throw_if_interrupted()
        self.registry.update(self.unique_id, value, total, preview)
        env = self.env
        env.hub.send_sync("progress", {"value": value, "max": total, "prompt_id": self.prompt_id,
                                       "node": self.unique_id}, env.client_id)
        if preview is not None and not env.hub.supports_preview_metadata(env.client_id):
            env.hub.send_sync(hubmod.UNENCODED_PREVIEW_IMAGE, preview, env.client_id)

    def send_text(self, text, node_id, sid=None):
        """PromptServer.send_progress_text: to ``sid``, or to every socket when None."""
        self.env.hub.send_progress_text(text, node_id, sid)


def format_value(x):
    if x is None or isinstance(x, (int, float, bool, str)):
        return x
    return str(x)


class Executor:
    def __init__(self, env):
        self.env = env
        self.cache = {}
        self.objects = {}   # (node id, class_type) -> node instance (reuse_node_objects only)
        self.status_messages = []

    def reset(self):
        self.cache = {}
        self.objects = {}

    def node_object(self, nid, class_type, cls):
        """The instance that runs node ``nid``: a kept one with reuse_node_objects, else new."""
        if not self.env.profile.reuse_node_objects:
            return cls()
        key = (nid, class_type)
        if key not in self.objects:
            self.objects[key] = cls()
        return self.objects[key]

    def add_message(self, event, data, broadcast):
        data = {**data, "timestamp": int(time.time() * 1000)}
        self.status_messages.append([event, data])
        if self.env.client_id is not None or broadcast:
            self.env.hub.send_sync(event, data, self.env.client_id)

    def handle_execution_error(self, prompt_id, prompt, current_outputs, executed, error, ex):
        node_id = error["node_id"]
        class_type = prompt[node_id]["class_type"]
        if isinstance(ex, Interrupted):
            self.add_message("execution_interrupted", {
                "prompt_id": prompt_id, "node_id": node_id, "node_type": class_type,
                "executed": list(executed)}, broadcast=True)
        else:
            self.add_message("execution_error", {
                "prompt_id": prompt_id, "node_id": node_id, "node_type": class_type,
                "executed": list(executed),
                "exception_message": error["exception_message"],
                "exception_type": error["exception_type"],
                "traceback": error["traceback"],
                "current_inputs": error["current_inputs"],
                "current_outputs": list(current_outputs)}, broadcast=False)

    async def execute(self, prompt, prompt_id, extra_data, execute_outputs):
        """Run one prompt. Returns (success, status messages, history result)."""
        env = self.env
        env.interrupt_flag = False
        env.client_id = extra_data["client_id"] if isinstance(extra_data, dict) and "client_id" in extra_data else None
        self.status_messages = []
        self.add_message("execution_start", {"prompt_id": prompt_id}, broadcast=False)

        registry = ProgressRegistry(env, prompt_id)
        signatures = compute_signatures(env, prompt)
        keys = set(signatures.values())
        self.cache = {k: v for k, v in self.cache.items() if k in keys}
        in_prompt = {(nid, node["class_type"]) for nid, node in prompt.items()}
        self.objects = {k: v for k, v in self.objects.items() if k in in_prompt}
        cached_nodes = [nid for nid in prompt if signatures[nid] in self.cache]
        self.add_message("execution_cached", {"nodes": cached_nodes, "prompt_id": prompt_id}, broadcast=False)

        executed = []
        ui_outputs = {}
        outputs = {}
        current_outputs = list(prompt.keys())
        elist = ExecutionList(prompt, lambda nid: signatures.get(nid) in self.cache, env.nodes)
        for nid in list(execute_outputs):
            elist.add_node(nid)

        success = True
        while not elist.is_empty():
            nid, error = elist.stage()
            if error is not None:
                self.handle_execution_error(prompt_id, prompt, current_outputs, executed, error, None)
                success = False
                break
            result, error, ex = await self.execute_node(
                nid, prompt, prompt_id, extra_data, signatures, registry, outputs, ui_outputs, executed)
            if result == FAILURE:
                self.handle_execution_error(prompt_id, prompt, current_outputs, executed, error, ex)
                success = False
                break
            elist.complete()
        else:
            self.add_message("execution_success", {"prompt_id": prompt_id}, broadcast=False)

        history_result = {
            "outputs": {nid: ui["output"] for nid, ui in ui_outputs.items()},
            "meta": {nid: ui["meta"] for nid, ui in ui_outputs.items()},
        }
        env.last_node_id = None
        return success, list(self.status_messages), history_result

    def _get_output(self, nid, outputs, signatures):
        if nid in outputs:
            return outputs[nid]
        entry = self.cache.get(signatures.get(nid))
        return entry.outputs if entry is not None else None

    def get_input_data(self, node, cls, unique_id, outputs, signatures, prompt, extra_data):
        class_inputs = cls.input_types(self.env)
        data = {}
        for name, value in node["inputs"].items():
            _, category, _ = get_input_info(class_inputs, name)
            if is_link(value):
                out = self._get_output(value[0], outputs, signatures)
                if out is None or value[1] >= len(out):
                    continue
                data[name] = out[int(value[1])]
            elif category is not None:
                data[name] = value
        for name, kind in class_inputs.get("hidden", {}).items():
            if kind == "PROMPT":
                data[name] = prompt
            elif kind == "EXTRA_PNGINFO":
                data[name] = extra_data.get("extra_pnginfo") if isinstance(extra_data, dict) else None
            elif kind == "UNIQUE_ID":
                data[name] = unique_id
        return data

    async def execute_node(self, nid, prompt, prompt_id, extra_data, signatures, registry, outputs,
                           ui_outputs, executed):
        env = self.env
        node = prompt[nid]
        cls = env.nodes[node["class_type"]]
        entry = self.cache.get(signatures[nid])
        if entry is not None:
            if env.client_id is not None:
                env.hub.send_sync("executed", {
                    "node": nid, "display_node": nid,
                    "output": entry.ui["output"] if entry.ui is not None else None,
                    "prompt_id": prompt_id}, env.client_id)
            if entry.ui is not None:
                ui_outputs[nid] = entry.ui
            registry.finish(nid)
            outputs[nid] = entry.outputs
            return SUCCESS, None, None

        input_data = None
        try:
            registry.start(nid)
            input_data = self.get_input_data(node, cls, nid, outputs, signatures, prompt, extra_data)
            if env.client_id is not None:
                env.last_node_id = nid
                env.hub.send_sync("executing", {"node": nid, "display_node": nid, "prompt_id": prompt_id},
                                  env.client_id)
            env.throw_if_interrupted()  # nodes.before_node_execution()
            ctx = NodeContext(env, registry, prompt_id, nid, prompt, extra_data)
            result = self.node_object(nid, node["class_type"], cls).run(ctx, **input_data)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, dict):
                output_ui = result.get("ui") or {}
                output_data = tuple(result.get("result", ()))
            else:
                output_ui = {}
                output_data = tuple(result)
            if len(output_ui) > 0:
                ui_outputs[nid] = {
                    "meta": {"node_id": nid, "display_node": nid, "parent_node": None, "real_node_id": nid},
                    "output": output_ui,
                }
                if env.client_id is not None:
                    env.hub.send_sync("executed", {"node": nid, "display_node": nid, "output": output_ui,
                                                   "prompt_id": prompt_id}, env.client_id)
            self.cache[signatures[nid]] = CacheEntry(output_data, ui_outputs.get(nid))
            outputs[nid] = output_data
        except Interrupted as iex:
            log.info("Processing interrupted")
            return FAILURE, {"node_id": nid}, iex
        except asyncio.CancelledError:
            raise
        except Exception as ex:
            typ, _, tb = sys.exc_info()
            formatted = {}
            if input_data is not None:
                formatted = {name: [format_value(v)] for name, v in input_data.items()}
            log.error("!!! Exception during processing !!! %s", ex)
            return FAILURE, {
                "node_id": nid,
                "exception_message": "{}\n{}".format(ex, ""),
                "exception_type": full_type_name(typ),
                "traceback": traceback.format_tb(tb),
                "current_inputs": formatted,
            }, ex

        registry.finish(nid)
        executed.append(nid)
        return SUCCESS, None, None


class Worker:
    """main.prompt_worker: take the next item, execute it, write history, announce the end."""

    def __init__(self, env):
        self.env = env
        self.executor = Executor(env)
        self.current_item_id = None

    def process_flags(self):
        flags = self.env.queue.get_flags()
        if flags.get("free_memory", False):
            self.executor.reset()

    async def run(self):
        env = self.env
        while True:
            while True:
                self.process_flags()
                if env.queue.queue and not env.paused:
                    break
                env.wakeup.clear()
                await env.wakeup.wait()
            item, item_id = env.queue.get()
            self.current_item_id = item_id
            prompt_id = item[1]
            env.last_prompt_id = prompt_id
            try:
                success, messages, history_result = await self.executor.execute(item[2], prompt_id, item[3], item[4])
            except asyncio.CancelledError:
                raise
            except Exception as ex:  # an emulator bug must not kill the worker
                log.exception("executor failure")
                success, messages, history_result = False, [[
                    "execution_error", {"prompt_id": prompt_id, "exception_message": f"{ex}\n",
                                        "timestamp": int(time.time() * 1000)}]], {"outputs": {}, "meta": {}}
            env.queue.task_done(item_id, history_result, {
                "status_str": "success" if success else "error",
                "completed": success,
                "messages": messages,
            })
            self.current_item_id = None
            if env.client_id is not None:
                env.hub.send_sync("executing", {"node": None, "prompt_id": prompt_id}, env.client_id)
