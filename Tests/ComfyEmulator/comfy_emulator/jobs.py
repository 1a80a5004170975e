"""ComfyUI 0.33's jobs API (traces-0.33/m_jobs_api, n_jobs_cancel, o_failed_job, p_prompt_id):

    GET  /api/jobs                  list: running, pending and finished prompts as "jobs"
    GET  /api/jobs/{job_id}         one job: history first, then running, then pending; 404
    POST /api/jobs/{job_id}/cancel  interrupt if running, else dequeue if pending; always 200
    POST /api/jobs/cancel           the same for {"job_ids": [...]} (canonical UUIDs only)

The routes are declared with their /api prefix; server.ComfyRoutes adds its usual /api alias,
so /api/api/jobs... exists too and /jobs does not.

A job is a queue item or a history entry seen through one shape, keys whose value is null
left out: ``id``, ``status`` (pending, in_progress, completed, failed, cancelled), ``priority``
(the queue number), ``create_time`` (extra_data.create_time, ms), ``outputs_count``,
``previewable_outputs_count`` and ``workflow_id`` (extra_data.extra_pnginfo.workflow.id);
a finished job adds ``execution_start_time`` / ``execution_end_time`` (timestamps of its
execution_start and terminal messages), ``execution_error`` (the execution_error payload)
and ``preview_output`` (first previewable output item, type "output" preferred, plus nodeId
and mediaType). GET /api/jobs/{id} of a finished job also has ``outputs``,
``execution_status`` (history status) and ``workflow`` {prompt, extra_data}.
"""
import json
import uuid

from aiohttp import web

PENDING, IN_PROGRESS = "pending", "in_progress"
COMPLETED, FAILED, CANCELLED = "completed", "failed", "cancelled"
ALL_STATUSES = (PENDING, IN_PROGRESS, COMPLETED, FAILED, CANCELLED)
FINISHED_STATUSES = frozenset({COMPLETED, FAILED, CANCELLED})
SORT_FIELDS = ("created_at", "execution_duration")
PREVIEWABLE_MEDIA_TYPES = frozenset({"images", "video", "audio", "3d"})
THREE_D_EXTENSIONS = (".obj", ".fbx", ".gltf", ".glb", ".usdz")
TERMINAL_EVENTS = ("execution_success", "execution_error", "execution_interrupted")


def is_canonical_uuid(value):
    """True for a UUID string in canonical lowercase hyphenated form (and nothing else)."""
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def prune(values):
    return {k: v for k, v in values.items() if v is not None}


# -- job shapes ---------------------------------------------------------------------------

def job_metadata(extra_data):
    """(create_time, workflow_id) from a prompt's extra_data."""
    if not isinstance(extra_data, dict):
        return None, None
    pnginfo = extra_data.get("extra_pnginfo")
    workflow = pnginfo.get("workflow") if isinstance(pnginfo, dict) else None
    workflow_id = workflow.get("id") if isinstance(workflow, dict) else None
    return extra_data.get("create_time"), workflow_id


def queue_job(item, status):
    """A running or pending queue item [number, id, prompt, extra_data, outputs]."""
    create_time, workflow_id = job_metadata(item[3])
    return prune({
        "id": item[1], "status": status, "priority": item[0], "create_time": create_time,
        "outputs_count": 0, "previewable_outputs_count": 0, "workflow_id": workflow_id,
    })


def _is_previewable(media_type, item):
    if media_type in PREVIEWABLE_MEDIA_TYPES:
        return True
    fmt = item.get("format") or ""
    if isinstance(fmt, str) and fmt.startswith(("video/", "audio/")):
        return True
    filename = item.get("filename")
    return isinstance(filename, str) and filename.lower().endswith(THREE_D_EXTENSIONS)


def _output_items(outputs):
    """(node id, media type, item) of every file-like output item (dicts; the ``animated``
    flag and plain strings such as PreviewAny's text are not outputs)."""
    if not isinstance(outputs, dict):
        return
    for node_id, node_outputs in outputs.items():
        if not isinstance(node_outputs, dict):
            continue
        for media_type, items in node_outputs.items():
            if media_type == "animated" or not isinstance(items, list):
                continue
            for item in items:
                if isinstance(item, dict):
                    yield node_id, media_type, item


def outputs_summary(outputs):
    """(outputs_count, previewable_outputs_count, preview_output)."""
    count = previewable = 0
    preview = fallback = None
    for node_id, media_type, item in _output_items(outputs):
        count += 1
        if not _is_previewable(media_type, item):
            continue
        previewable += 1
        enriched = {**item, "nodeId": node_id}
        enriched.setdefault("mediaType", media_type)
        if item.get("type") == "output":
            preview = preview or enriched
        else:
            fallback = fallback or enriched
    return count, previewable, preview or fallback


def normalize_outputs(outputs):
    """History outputs as the jobs API shows them: None items dropped from the lists."""
    if not isinstance(outputs, dict):
        return outputs
    out = {}
    for node_id, node_outputs in outputs.items():
        if isinstance(node_outputs, dict):
            node_outputs = {k: [i for i in v if i is not None] if isinstance(v, list) and k != "animated" else v
                            for k, v in node_outputs.items()}
        out[node_id] = node_outputs
    return out


def history_job(prompt_id, entry, full=False):
    """A history entry {prompt, outputs, status, meta}; ``full`` for GET /api/jobs/{id}."""
    number, _, prompt, extra_data, _ = entry["prompt"]
    create_time, workflow_id = job_metadata(extra_data)
    status_info = entry.get("status") or {}
    start = end = error = None
    interrupted = False
    for message in status_info.get("messages", []):
        if not (isinstance(message, (list, tuple)) and len(message) >= 2 and isinstance(message[1], dict)):
            continue
        event, data = message[0], message[1]
        if event == "execution_start":
            start = data.get("timestamp")
        elif event in TERMINAL_EVENTS:
            end = data.get("timestamp")
            if event == "execution_error":
                error = data
            elif event == "execution_interrupted":
                interrupted = True
    status_str = status_info.get("status_str")
    if status_str == "error":
        status = CANCELLED if interrupted else FAILED
    else:
        status = COMPLETED
    outputs = entry.get("outputs", {})
    count, previewable, preview = outputs_summary(outputs)
    job = prune({
        "id": prompt_id, "status": status, "priority": number, "create_time": create_time,
        "execution_start_time": start, "execution_end_time": end, "execution_error": error,
        "outputs_count": count, "previewable_outputs_count": previewable,
        "preview_output": preview, "workflow_id": workflow_id,
    })
    if full:
        job["outputs"] = normalize_outputs(outputs)
        job["execution_status"] = entry.get("status")
        job["workflow"] = {"prompt": prompt, "extra_data": extra_data}
    return job


# -- queries --------------------------------------------------------------------------------

def _duration(job):
    start, end = job.get("execution_start_time", 0), job.get("execution_end_time", 0)
    return end - start if start and end else 0


def list_jobs(running, pending, history, statuses=ALL_STATUSES, workflow_id=None,
              sort_by="created_at", sort_order="desc", offset=0, limit=None):
    """(page of jobs, total): collect running, pending, finished; filter; sort; slice."""
    jobs = []
    if IN_PROGRESS in statuses:
        jobs += [queue_job(item, IN_PROGRESS) for item in running]
    if PENDING in statuses:
        jobs += [queue_job(item, PENDING) for item in pending]
    if FINISHED_STATUSES & set(statuses):
        for prompt_id, entry in history.items():
            job = history_job(prompt_id, entry)
            if job["status"] in statuses:
                jobs.append(job)
    if workflow_id:
        jobs = [j for j in jobs if j.get("workflow_id") == workflow_id]
    key = _duration if sort_by == "execution_duration" else (lambda j: j.get("create_time", 0))
    jobs = sorted(jobs, key=key, reverse=sort_order == "desc")
    total = len(jobs)
    if offset > 0:
        jobs = jobs[offset:]
    if limit is not None:
        jobs = jobs[:limit]
    return jobs, total


def find_job(job_id, running, pending, history):
    """GET /api/jobs/{id}: the history entry wins over a same-id duplicate still queued."""
    if job_id in history:
        return history_job(job_id, history[job_id], full=True)
    for item in running:
        if item[1] == job_id:
            return queue_job(item, IN_PROGRESS)
    for item in pending:
        if item[1] == job_id:
            return queue_job(item, PENDING)
    return None


def parse_list_query(query):
    """GET /api/jobs parameters -> (options for list_jobs, None) or (None, error message)."""
    statuses = ALL_STATUSES
    if query.get("status"):
        statuses = [s.strip().lower() for s in query["status"].split(",") if s.strip()]
        invalid = [s for s in statuses if s not in ALL_STATUSES]
        if invalid:
            return None, (f"Invalid status value(s): {', '.join(invalid)}. "
                          f"Valid values: {', '.join(ALL_STATUSES)}")
    sort_by = query.get("sort_by", "created_at").lower()
    if sort_by not in SORT_FIELDS:
        return None, "sort_by must be 'created_at' or 'execution_duration'"
    sort_order = query.get("sort_order", "desc").lower()
    if sort_order not in ("asc", "desc"):
        return None, "sort_order must be 'asc' or 'desc'"
    limit = None
    if "limit" in query:
        try:
            limit = int(query["limit"])
        except ValueError:
            return None, "limit must be an integer"
        if limit <= 0:
            return None, "limit must be a positive integer"
    try:
        offset = max(0, int(query.get("offset", 0)))
    except ValueError:
        return None, "offset must be an integer"
    return {"statuses": statuses, "workflow_id": query.get("workflow_id"), "sort_by": sort_by,
            "sort_order": sort_order, "offset": offset, "limit": limit}, None


# -- routes ---------------------------------------------------------------------------------

class JobRoutes:
    def __init__(self, emu):
        self.emu = emu

    def table(self):
        return [
            ("GET", "/api/jobs", self.get_jobs),
            ("GET", "/api/jobs/{job_id}", self.get_job),
            ("POST", "/api/jobs/cancel", self.cancel_jobs),
            ("POST", "/api/jobs/{job_id}/cancel", self.cancel_job),
        ]

    def snapshot(self):
        """(running items, pending items in heap order, history dict), read-only views."""
        queue = self.emu.queue
        return list(queue.currently_running.values()), [e.item for e in queue.queue], queue.history

    async def get_jobs(self, request):
        options, error = parse_list_query(request.rel_url.query)
        if error is not None:
            return web.json_response({"error": error}, status=400)
        jobs, total = list_jobs(*self.snapshot(), **options)
        return web.json_response({"jobs": jobs, "pagination": {
            "offset": options["offset"], "limit": options["limit"], "total": total,
            "has_more": options["offset"] + len(jobs) < total}})

    async def get_job(self, request):
        job = find_job(request.match_info["job_id"], *self.snapshot())
        if job is None:
            return web.json_response({"error": "Job not found"}, status=404)
        return web.json_response(job)

    def cancel(self, job_id):
        """Interrupt ``job_id`` if it runs, else dequeue it if pending. True if either."""
        running, pending, _ = self.snapshot()
        if any(item[1] == job_id for item in running):
            self.emu.interrupt()
            return True
        if any(item[1] == job_id for item in pending):
            return self.emu.queue.delete_queue_item(lambda item: item[1] == job_id)
        return False

    async def cancel_job(self, request):
        return web.json_response({"cancelled": self.cancel(request.match_info["job_id"])})

    async def cancel_jobs(self, request):
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": "Request body must be valid JSON"}, status=400)
        job_ids = body.get("job_ids") if isinstance(body, dict) else None
        if not isinstance(job_ids, list):
            return web.json_response({"error": "job_ids must be a list"}, status=400)
        invalid = [j if isinstance(j, str) else repr(j) for j in job_ids if not is_canonical_uuid(j)]
        if invalid:
            return web.json_response({"error": "job_ids contains invalid id(s)", "invalid_ids": invalid},
                                     status=400)
        cancelled = False
        for job_id in job_ids:
            cancelled = self.cancel(job_id) or cancelled
        return web.json_response({"cancelled": cancelled})
