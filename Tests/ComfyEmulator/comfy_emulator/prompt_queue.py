"""The prompt queue: pending binary heap, running items and history (execution.PromptQueue).

Items are ComfyUI's 5-element ``[number, prompt_id, prompt, extra_data, outputs_to_execute]``.
The pending list is exposed exactly as the heap array (unsorted), execution order being
(number, prompt_id). Every change calls ``on_change`` which broadcasts a ``status`` frame,
including the double broadcast ComfyUI emits when the last pending item is deleted.
"""
import copy
import heapq
import itertools

MAXIMUM_HISTORY_SIZE = 10000
SENSITIVE_EXTRA_DATA_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")


class _Entry:
    """Heap entry ordered like ComfyUI's tuples: (number, prompt_id), then arrival order."""
    __slots__ = ("item", "seq")

    def __init__(self, item, seq):
        self.item = item
        self.seq = seq

    def key(self):
        return (self.item[0], self.item[1], self.seq)

    def __lt__(self, other):
        return self.key() < other.key()


class PromptQueue:
    def __init__(self, on_change, wakeup):
        self.on_change = on_change
        self.wakeup = wakeup
        self.queue = []
        self.currently_running = {}
        self.task_counter = 0
        self.history = {}
        self.flags = {}
        self._seq = itertools.count()

    def put(self, item):
        heapq.heappush(self.queue, _Entry(item, next(self._seq)))
        self.on_change()
        self.wakeup.set()

    def get(self):
        entry = heapq.heappop(self.queue)
        i = self.task_counter
        self.currently_running[i] = copy.deepcopy(entry.item)
        self.task_counter += 1
        self.on_change()
        return entry.item, i

    def task_done(self, item_id, history_result, status):
        prompt = self.currently_running.pop(item_id)
        if len(self.history) > MAXIMUM_HISTORY_SIZE:
            self.history.pop(next(iter(self.history)))
        extra = dict(prompt[3]) if isinstance(prompt[3], dict) else prompt[3]
        if isinstance(extra, dict):
            for k in SENSITIVE_EXTRA_DATA_KEYS:
                extra.pop(k, None)
        prompt = [prompt[0], prompt[1], prompt[2], extra, prompt[4]]
        self.history[prompt[1]] = {
            "prompt": prompt,
            "outputs": {},
            "status": copy.deepcopy(status),
        }
        self.history[prompt[1]].update(history_result)
        self.on_change()

    def drop_running(self, item_id):
        self.currently_running.pop(item_id, None)

    def get_current_queue(self):
        running = [copy.deepcopy(x) for x in self.currently_running.values()]
        return running, [copy.deepcopy(e.item) for e in self.queue]

    def get_tasks_remaining(self):
        return len(self.queue) + len(self.currently_running)

    def wipe_queue(self):
        self.queue = []
        self.on_change()

    def delete_queue_item(self, function):
        for x in range(len(self.queue)):
            if function(self.queue[x].item):
                if len(self.queue) == 1:
                    self.wipe_queue()
                else:
                    self.queue.pop(x)
                    heapq.heapify(self.queue)
                self.on_change()
                return True
        return False

    def get_history(self, prompt_id=None, max_items=None, offset=-1):
        if prompt_id is None:
            out = {}
            i = 0
            if offset < 0 and max_items is not None:
                offset = len(self.history) - max_items
            for k in self.history:
                if i >= offset:
                    out[k] = self.history[k]
                    if max_items is not None and len(out) >= max_items:
                        break
                i += 1
            return out
        if prompt_id in self.history:
            return {prompt_id: copy.deepcopy(self.history[prompt_id])}
        return {}

    def wipe_history(self):
        self.history = {}

    def delete_history_item(self, id_to_delete):
        self.history.pop(id_to_delete, None)

    def set_flag(self, name, data):
        self.flags[name] = data
        self.wakeup.set()

    def get_flags(self, reset=True):
        ret = self.flags
        if reset:
            self.flags = {}
        else:
            ret = ret.copy()
        return ret
