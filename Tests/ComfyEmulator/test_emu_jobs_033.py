"""0.33 mode, focused: the /api/jobs routes' validation (exact error bodies), job shapes and
timestamps, cancelling (single and batch), POST /prompt's canonical prompt ids and create_time,
the pure helpers of comfy_emulator.jobs, and the version switch itself (--version,
COMFY_EMULATOR_VERSION, start_in_thread, EmulatorProcess).

Validation tests share one module-scoped emulator (they change nothing); tests that run
prompts get their own. The queue is held with /__emulator/pause where a job must stay pending.
"""
import os
import subprocess
import sys
import uuid

import httpx
import pytest

from conftest import HERE, EmulatorProcess, wait_until
from emu_helpers import (EMPTY_SAVE, collect_until, drain, is_done, recv_frame, slow_prompt, submit,
                         wait_history, ws_connect)

STATUS_ERROR = "Invalid status value(s): {}. Valid values: pending, in_progress, completed, failed, cancelled"
INVALID_PROMPT_ID = {"error": {
    "type": "invalid_prompt_id", "message": "prompt_id must be a valid UUID",
    "details": "prompt_id must be a UUID string in canonical lowercase hyphenated form; "
               "omit it to let the server generate one",
    "extra_info": {}}, "node_errors": {}}
EMPTY_PAGE = {"jobs": [], "pagination": {"offset": 0, "limit": None, "total": 0, "has_more": False}}


@pytest.fixture(scope="module")
def shared_033(tmp_path_factory):
    emu = EmulatorProcess(tmp_path_factory.mktemp("jobs033") / "root", version="0.33")
    yield emu
    emu.stop()


def jobs(emu, query="", **params):
    return httpx.get(f"{emu.base}/api/jobs{query}", params=params or None)


def pause(emu, paused=True):
    httpx.post(emu.base + "/__emulator/pause", json={"paused": paused}).raise_for_status()


# -- GET /api/jobs validation -----------------------------------------------------------------

@pytest.mark.parametrize("query, error", [
    ("?status=bogus", STATUS_ERROR.format("bogus")),
    ("?status=Pending,NOPE,,x", STATUS_ERROR.format("nope, x")),
    ("?sort_by=name", "sort_by must be 'created_at' or 'execution_duration'"),
    ("?sort_order=up", "sort_order must be 'asc' or 'desc'"),
    ("?limit=0", "limit must be a positive integer"),
    ("?limit=-3", "limit must be a positive integer"),
    ("?limit=abc", "limit must be an integer"),
    ("?limit=1.5", "limit must be an integer"),
    ("?offset=abc", "offset must be an integer"),
    ("?status=bogus&sort_by=name&limit=0", STATUS_ERROR.format("bogus")),   # status is checked first
    ("?sort_by=name&sort_order=up", "sort_by must be 'created_at' or 'execution_duration'"),
    ("?limit=abc&offset=abc", "limit must be an integer"),
])
def test_list_validation_errors(shared_033, query, error):
    r = jobs(shared_033, query)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == {"error": error}


@pytest.mark.parametrize("query, pagination", [
    ("", {"offset": 0, "limit": None}),
    ("?status=", {"offset": 0, "limit": None}),                   # empty status = all
    ("?status=PENDING, in_progress", {"offset": 0, "limit": None}),   # lower-cased, stripped
    ("?sort_by=EXECUTION_DURATION&sort_order=ASC", {"offset": 0, "limit": None}),
    ("?offset=-5", {"offset": 0, "limit": None}),                 # clamped
    ("?offset=7&limit=3", {"offset": 7, "limit": 3}),
    ("?status=cancelled&workflow_id=w", {"offset": 0, "limit": None}),
])
def test_list_accepts(shared_033, query, pagination):
    r = jobs(shared_033, query)
    assert r.status_code == 200, r.text
    assert r.json() == {"jobs": [], "pagination": {**pagination, "total": 0, "has_more": False}}


def test_single_job_not_found_and_routes(shared_033):
    base = shared_033.base
    for job_id in (str(uuid.uuid4()), "not-a-uuid", str(uuid.uuid4()).upper()):
        r = httpx.get(f"{base}/api/jobs/{job_id}")
        assert r.status_code == 404 and r.json() == {"error": "Job not found"}
    # declared with /api, then aliased like every route: /api/api/jobs exists, /jobs does not
    assert httpx.get(base + "/api/api/jobs").json() == EMPTY_PAGE
    r = httpx.get(base + "/jobs")
    assert r.status_code == 404 and r.content == b""
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["transfer-encoding"] == "chunked"
    assert httpx.get(base + "/api/jobs/x/y").status_code == 404


# -- POST /api/jobs/cancel validation ---------------------------------------------------------

@pytest.mark.parametrize("body, error", [
    (b"{not json", {"error": "Request body must be valid JSON"}),
    (b"", {"error": "Request body must be valid JSON"}),
    (b"{}", {"error": "job_ids must be a list"}),
    (b'{"job_ids": "b27c9118-6ce7-4d26-aefd-a7b838da7845"}', {"error": "job_ids must be a list"}),
    (b'{"job_ids": null}', {"error": "job_ids must be a list"}),
    (b'["b27c9118-6ce7-4d26-aefd-a7b838da7845"]', {"error": "job_ids must be a list"}),
    (b'{"job_ids": ["b27c9118-6ce7-4d26-aefd-a7b838da7845", "not-a-uuid", '
     b'"B27C9118-6CE7-4D26-AEFD-A7B838DA7845", 123, null, true, {"a": 1}, "b27c91186ce74d26aefda7b838da7845"]}',
     {"error": "job_ids contains invalid id(s)",
      "invalid_ids": ["not-a-uuid", "B27C9118-6CE7-4D26-AEFD-A7B838DA7845", "123", "None", "True",
                      "{'a': 1}", "b27c91186ce74d26aefda7b838da7845"]}),
])
def test_batch_cancel_validation(shared_033, body, error):
    r = httpx.post(shared_033.base + "/api/jobs/cancel", content=body,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json() == error


def test_cancel_of_unknown_ids_is_a_no_op(shared_033):
    base = shared_033.base
    for job_id in (str(uuid.uuid4()), "not-a-uuid", "cancel"):
        r = httpx.post(f"{base}/api/jobs/{job_id}/cancel")
        assert r.status_code == 200 and r.json() == {"cancelled": False}
    assert httpx.post(base + "/api/jobs/cancel", json={"job_ids": []}).json() == {"cancelled": False}
    assert httpx.post(base + "/api/jobs/cancel", json={"job_ids": [str(uuid.uuid4())]}).json() == {"cancelled": False}


# -- POST /prompt ---------------------------------------------------------------------------

@pytest.mark.parametrize("prompt_id", [
    str(uuid.uuid4()).upper(), "my-job-0001", uuid.uuid4().hex, "{%s}" % uuid.uuid4(),
    f"urn:uuid:{uuid.uuid4()}", 12345, "", ["x"],
])
def test_prompt_id_must_be_canonical(shared_033, prompt_id):
    r = submit(shared_033, EMPTY_SAVE, prompt_id=prompt_id)
    assert r.status_code == 400
    assert r.json() == INVALID_PROMPT_ID
    assert len(r.content) == 247      # as recorded: aiohttp's json.dumps of that body


def test_prompt_ids_numbers_and_create_time(emulator_033):
    emu = emulator_033
    pause(emu)
    first = submit(emu, EMPTY_SAVE).json()
    assert first["number"] == 0
    for bad in ("X", 12345, ""):                                     # rejected ids use a number
        assert submit(emu, EMPTY_SAVE, prompt_id=bad).status_code == 400
    minted = submit(emu, EMPTY_SAVE, prompt_id=None).json()          # null: the server mints one
    assert minted["number"] == 4 and str(uuid.UUID(minted["prompt_id"])) == minted["prompt_id"]
    own = str(uuid.uuid4())
    assert submit(emu, EMPTY_SAVE, prompt_id=own).json()["prompt_id"] == own
    assert submit(emu, EMPTY_SAVE, prompt_id=own).status_code == 200   # duplicates are accepted
    pending = httpx.get(emu.base + "/queue").json()["queue_pending"]
    assert [item[1] for item in sorted(pending)] == [first["prompt_id"], minted["prompt_id"], own, own]
    for item in pending:
        assert list(item[3]) == ["create_time"] and isinstance(item[3]["create_time"], int)
    listed = jobs(emu).json()
    assert [j["id"] for j in listed["jobs"]].count(own) == 2
    assert {j["status"] for j in listed["jobs"]} == {"pending"}
    by_number = {item[0]: item[3]["create_time"] for item in pending}
    assert all(j["create_time"] == by_number[j["priority"]] for j in listed["jobs"])
    pause(emu, False)


# -- job shapes and lifecycle -----------------------------------------------------------------

def test_job_shapes_through_a_lifecycle(emulator_033):
    emu = emulator_033
    ws = ws_connect(emu, "shape")
    recv_frame(ws)
    workflow = {"extra_pnginfo": {"workflow": {"id": "wf-1"}}}
    running = submit(emu, slow_prompt(steps=3, delay_ms=100, prefix="j"), client_id="shape").json()["prompt_id"]
    assert wait_until(lambda: httpx.get(f"{emu.base}/api/jobs/{running}").json()["status"] == "in_progress")
    pause(emu)
    pending = submit(emu, EMPTY_SAVE, client_id="shape", extra_data=workflow).json()["prompt_id"]
    job = httpx.get(f"{emu.base}/api/jobs/{running}").json()
    assert list(job) == ["id", "status", "priority", "create_time", "outputs_count", "previewable_outputs_count"]
    assert (job["priority"], job["outputs_count"], job["previewable_outputs_count"]) == (0, 0, 0)
    job = httpx.get(f"{emu.base}/api/jobs/{pending}").json()
    assert job["status"] == "pending" and job["workflow_id"] == "wf-1" and job["priority"] == 1
    assert [j["id"] for j in jobs(emu, workflow_id="wf-1").json()["jobs"]] == [pending]
    frames = collect_until(ws, is_done(running))
    job = httpx.get(f"{emu.base}/api/jobs/{running}").json()
    history = httpx.get(f"{emu.base}/history/{running}").json()[running]
    start = next(f["data"]["timestamp"] for f in frames if f.get("type") == "execution_start")
    end = next(f["data"]["timestamp"] for f in frames if f.get("type") == "execution_success")
    assert job["status"] == "completed"
    assert (job["execution_start_time"], job["execution_end_time"]) == (start, end)
    assert job["create_time"] == history["prompt"][3]["create_time"] <= start
    assert job["outputs_count"] == job["previewable_outputs_count"] == 1
    assert job["preview_output"] == {"filename": "j_00001_.png", "subfolder": "", "type": "output",
                                     "nodeId": "3", "mediaType": "images"}
    assert job["outputs"] == history["outputs"]
    assert job["execution_status"] == history["status"]
    assert job["workflow"] == {"prompt": history["prompt"][2], "extra_data": history["prompt"][3]}
    listed = jobs(emu).json()["jobs"]
    assert [j["id"] for j in listed] == [pending, running]                 # create_time descending
    assert "outputs" not in listed[1] and "workflow" not in listed[1]
    assert jobs(emu, status="completed", limit="1").json()["pagination"] == \
        {"offset": 0, "limit": 1, "total": 1, "has_more": False}
    pause(emu, False)
    ws.close()


def test_failed_and_preview_jobs(emulator_033):
    emu = emulator_033
    fail = {"1": EMPTY_SAVE["1"], "2": {"class_type": "FailAlways", "inputs": {"image": ["1", 0]}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "f"}}}
    failed = submit(emu, fail).json()["prompt_id"]
    error = next(m for m in wait_history(emu, failed)["status"]["messages"] if m[0] == "execution_error")[1]
    job = httpx.get(f"{emu.base}/api/jobs/{failed}").json()
    assert job["status"] == "failed" and job["execution_error"] == error
    assert error["exception_message"] == "boom\n" and "preview_output" not in job
    assert jobs(emu, status="failed").json()["jobs"][0]["execution_error"] == error
    preview = {"1": EMPTY_SAVE["1"], "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
               "3": {"class_type": "SaveAnimatedWEBP", "inputs": {
                   "images": ["1", 0], "filename_prefix": "anim", "fps": 6.0, "lossless": True,
                   "quality": 80, "method": "default"}}}
    done = submit(emu, preview).json()["prompt_id"]
    wait_history(emu, done)
    job = httpx.get(f"{emu.base}/api/jobs/{done}").json()
    assert (job["outputs_count"], job["previewable_outputs_count"]) == (2, 2)   # "animated" is no output
    assert job["preview_output"]["type"] == "output" and job["preview_output"]["nodeId"] == "3"


def test_cancel_pending_and_running(emulator_033):
    emu = emulator_033
    ws = ws_connect(emu, "c")
    recv_frame(ws)
    running = submit(emu, slow_prompt(steps=40, delay_ms=50), client_id="c").json()["prompt_id"]
    collect_until(ws, lambda f: f.get("type") == "progress")
    pause(emu)
    pending = submit(emu, EMPTY_SAVE, client_id="c").json()["prompt_id"]
    other = submit(emu, EMPTY_SAVE, client_id="c").json()["prompt_id"]
    collect_until(ws, lambda f: f.get("type") == "status" and f["data"]["status"]["exec_info"]["queue_remaining"] == 3)
    assert httpx.post(f"{emu.base}/api/jobs/{pending}/cancel").json() == {"cancelled": True}
    status = collect_until(ws, lambda f: f.get("type") == "status")[-1]      # sent before the answer
    assert status["data"]["status"]["exec_info"]["queue_remaining"] == 2
    assert httpx.get(f"{emu.base}/api/jobs/{pending}").status_code == 404
    assert httpx.post(f"{emu.base}/api/jobs/{running}/cancel").json() == {"cancelled": True}
    frames = collect_until(ws, is_done(running))
    assert "execution_interrupted" in [f.get("type") for f in frames]
    job = httpx.get(f"{emu.base}/api/jobs/{running}").json()
    assert job["status"] == "cancelled" and job["outputs"] == {} and "execution_error" not in job
    assert httpx.post(f"{emu.base}/api/jobs/{running}/cancel").json() == {"cancelled": False}
    # batch: the last pending job goes, with ComfyUI's two identical status frames
    r = httpx.post(emu.base + "/api/jobs/cancel", json={"job_ids": [running, other, str(uuid.uuid4())]})
    assert r.json() == {"cancelled": True}
    assert [f["data"]["status"]["exec_info"]["queue_remaining"] for f in drain(ws, 0.2)] == [0, 0]
    assert httpx.get(emu.base + "/queue").json() == {"queue_running": [], "queue_pending": []}
    assert [j["id"] for j in jobs(emu, status="cancelled").json()["jobs"]] == [running]
    pause(emu, False)
    ws.close()


# -- security and other 0.33 differences ------------------------------------------------------

def test_cross_site_requests_are_refused(shared_033):
    base = shared_033.base
    for method, path in (("GET", "/prompt"), ("POST", "/api/jobs/cancel"), ("OPTIONS", "/prompt"), ("GET", "/")):
        r = httpx.request(method, base + path, headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403 and r.content == b"" and "content-type" not in r.headers
    for site in ("same-origin", "same-site", "none"):
        assert httpx.get(base + "/prompt", headers={"Sec-Fetch-Site": site}).status_code == 200
    with pytest.raises(Exception) as info:
        ws_connect(shared_033, "xs", additional_headers={"Sec-Fetch-Site": "cross-site"})
    assert "403" in str(info.value)
    # the test controls stay reachable
    assert httpx.get(base + "/__emulator/stats", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_features_system_stats_and_object_info(shared_033):
    base = shared_033.base
    assert httpx.get(base + "/features").json() == {
        "supports_preview_metadata": True, "supports_model_type_tags": True, "max_upload_size": 104857600,
        "extension": {"manager": {"supports_v4": True}}, "node_replacements": True, "assets": False}
    system = httpx.get(base + "/system_stats").json()["system"]
    assert (system["os"], system["comfyui_version"], system["deploy_environment"]) == ("linux", "0.33.0", "local-git")
    assert [p["name"] for p in system["comfy_package_versions"]][:2] == [
        "comfyui-frontend-package", "comfyui-workflow-templates"]
    info = httpx.get(base + "/object_info/SlowPreview").json()["SlowPreview"]
    assert info["input"]["hidden"] == {"unique_id": "UNIQUE_ID"} and info["search_aliases"] == []
    assert httpx.get(base + "/object_info").json()["EmptyImage"]["is_input_list"] is False


def test_view_hardening(shared_033):
    out = shared_033.root / "output"
    for name in ("a.svg", "a.html", "a.js", "a.png", "a.txt"):
        (out / name).write_bytes(b"<x/>")
    view = lambda name, **h: httpx.get(f"{shared_033.base}/view?filename={name}", headers=h)  # noqa: E731
    r = view("a.svg")
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == 'attachment; filename="a.svg"'
    assert (r.headers["cache-control"], r.headers["vary"]) == ("no-store", "Sec-Fetch-Dest")
    r = view("a.svg", **{"Sec-Fetch-Dest": "image"})
    assert (r.headers["content-type"], r.headers["content-disposition"]) == ("image/svg+xml", 'filename="a.svg"')
    for name in ("a.html", "a.js"):
        r = view(name, **{"Sec-Fetch-Dest": "image"})
        assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
    for name in ("a.png", "a.txt"):
        r = view(name)
        assert r.headers["x-content-type-options"] == "nosniff" and "vary" not in r.headers
        assert r.headers["content-disposition"] == f'filename="{name}"' and "cache-control" not in r.headers
    r = httpx.head(f"{shared_033.base}/view?filename=a.png")
    assert r.status_code == 200 and r.headers["content-length"] == "4" and r.content == b""


# -- the version switch ---------------------------------------------------------------------

def test_0_3_64_mode_has_none_of_it(emulator):
    assert httpx.get(emulator.base + "/api/jobs").status_code == 404
    assert submit(emulator, EMPTY_SAVE, prompt_id="my-job-0001").json()["prompt_id"] == "my-job-0001"
    assert httpx.get(emulator.base + "/prompt", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200
    assert httpx.get(emulator.base + "/system_stats").json()["system"]["comfyui_version"] == "0.3.64"


def run_cli(*args, env_version=None):
    env = {k: v for k, v in os.environ.items() if k != "COMFY_EMULATOR_VERSION"}
    if env_version is not None:
        env["COMFY_EMULATOR_VERSION"] = env_version
    return subprocess.run([sys.executable, str(HERE / "emulator.py"), "--root", "/nonexistent/x", *args],
                          capture_output=True, text=True, env=env, timeout=30)


def test_unknown_versions_exit_2():
    r = run_cli("--version", "0.4")
    assert r.returncode == 2 and r.stdout == ""
    assert "--version='0.4' is not a supported ComfyUI version (use 0.3.64 or 0.33)" in r.stderr
    r = run_cli(env_version="latest")
    assert r.returncode == 2
    assert "COMFY_EMULATOR_VERSION='latest' is not a supported ComfyUI version" in r.stderr


def test_environment_variable_picks_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("COMFY_EMULATOR_VERSION", "0.33")
    emu = EmulatorProcess(tmp_path / "env")               # no --version: the variable decides
    try:
        assert httpx.get(emu.base + "/system_stats").json()["system"]["comfyui_version"] == "0.33.0"
    finally:
        emu.stop()
    emu = EmulatorProcess(tmp_path / "flag", version="0.3.64")   # --version wins over it
    try:
        assert httpx.get(emu.base + "/api/jobs").status_code == 404
    finally:
        emu.stop()


def test_in_process_version(tmp_path):
    from comfy_emulator.app import start_in_thread
    from comfy_emulator.versions import UnknownVersion
    with pytest.raises(UnknownVersion):
        start_in_thread(str(tmp_path / "bad"), version="9")
    emu, port, stop = start_in_thread(str(tmp_path / "inproc"), version="0.33")
    try:
        assert emu.version == "0.33"
        assert httpx.get(f"http://127.0.0.1:{port}/api/jobs").json() == EMPTY_PAGE
    finally:
        stop()


# -- pure helpers -----------------------------------------------------------------------------

def test_outputs_summary_and_sorting():
    from comfy_emulator.jobs import is_canonical_uuid, list_jobs, outputs_summary
    outputs = {
        "7": {"text": ["hello"]},
        "8": {"images": [{"filename": "t.png", "subfolder": "", "type": "temp"}], "animated": [False]},
        "9": {"latents": [{"filename": "l.latent", "subfolder": "", "type": "output"}]},
        "10": {"audio": [{"filename": "a.flac", "subfolder": "", "type": "output"}]},
    }
    count, previewable, preview = outputs_summary(outputs)
    assert (count, previewable) == (3, 2)
    assert preview == {"filename": "a.flac", "subfolder": "", "type": "output", "nodeId": "10", "mediaType": "audio"}
    assert outputs_summary({"8": outputs["8"]})[2]["type"] == "temp"
    assert outputs_summary({}) == (0, 0, None)
    assert is_canonical_uuid(str(uuid.uuid4())) and not is_canonical_uuid(None)

    def entry(number, created, start, end):
        return {"prompt": [number, f"id{number}", {}, {"create_time": created}, []], "outputs": {},
                "status": {"status_str": "success", "completed": True, "messages": [
                    ["execution_start", {"timestamp": start}], ["execution_success", {"timestamp": end}]]}}

    history = {"id0": entry(0, 10, 100, 150), "id1": entry(1, 30, 200, 210), "id2": entry(2, 20, 300, 400)}
    pending = [[5, "id5", {}, {"create_time": 25}, []]]
    page, total = list_jobs([], pending, history)
    assert [j["id"] for j in page] == ["id1", "id5", "id2", "id0"] and total == 4
    page, _ = list_jobs([], pending, history, sort_by="execution_duration")
    assert [j["id"] for j in page] == ["id2", "id0", "id1", "id5"]      # pending: duration 0
    page, total = list_jobs([], pending, history, sort_order="asc", offset=1, limit=2)
    assert [j["id"] for j in page] == ["id2", "id5"] and total == 4
