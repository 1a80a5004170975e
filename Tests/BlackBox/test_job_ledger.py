"""The job ledger, from outside: the real gateway binary and the ComfyUI emulator on loopback.

Every accepted submission is a job the gateway keeps in its own SQLite ledger (STATE_DIR), so
that what ComfyUI forgets (a withdrawn or cleared prompt, a restart, a pruned history) is still
answered, and what the gateway itself forgets (it is killed) is found again at its next start.
"""
import json
import sqlite3
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from rest_stack import (API, BINARY, GatewayProcess, STATE_TIMEOUT, api, assert_error, empty_save,  # noqa: F401
                        failing, running_gateway, slow_save, stack, unique, wait_until)

UUID_TEXT = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


def job(client, job_id):
    r = client.get(f"{API}/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()


def wait_job(client, job_id, *statuses, timeout=STATE_TIMEOUT):
    return wait_until(lambda: (lambda j: j if j["status"] in statuses else None)(job(client, job_id)),
                      timeout, message=f"job {job_id} in {statuses}")


# --------------------------------------------------------------------------------------------
# jobs and their routes

def test_a_job_has_a_gateway_made_uuid_timestamps_images_and_is_listed(api):
    sub = api.submit_ok(empty_save(), client_id="ledger-a")
    job_id = sub["prompt_id"]
    assert uuid.UUID(job_id).version == 4 and job_id == job_id.lower()
    done = wait_job(api.client, job_id, "success")
    assert done["client_id"] == "ledger-a" and done["backend"] == "b0"
    assert done["created_at"].endswith("Z") and done["started_at"] and done["finished_at"]
    assert done["created_at"] <= done["started_at"] <= done["finished_at"]
    assert done["error"] is None and done["webhook"] is None and done["queue_position"] is None
    [image] = done["images"]
    assert image["url"].startswith(api.url + "/api/v1/images/download?")
    assert api.client.get(image["url"]).status_code == 200
    listed = api.client.get(f"{API}/jobs", params={"client_id": "ledger-a"}).json()
    assert [j["id"] for j in listed["jobs"]] == [job_id] and listed["next_cursor"] is None
    assert listed["jobs"][0] == done


def test_an_unknown_job_is_404_and_bad_queries_are_422(api):
    assert_error(api.client.get(f"{API}/jobs/{uuid.uuid4()}"), 404, "WORKFLOW_NOT_FOUND")
    for params in ({"status": "bogus"}, {"limit": "0"}, {"limit": "501"}, {"limit": "x"}, {"cursor": "nope"}):
        assert_error(api.client.get(f"{API}/jobs", params=params), 422, "INVALID_REQUEST")


def test_a_failed_job_keeps_its_execution_error(api):
    sub = api.submit_ok(failing("ledger boom"))
    done = wait_job(api.client, sub["prompt_id"], "error")
    assert done["error"]["code"] == "WORKFLOW_EXECUTION_ERROR"
    assert "ledger boom" in done["error"]["message"]


def test_pending_and_running_jobs_show_their_place_in_the_queue(api):
    api.emu.pause(True)
    first = api.submit_ok(empty_save())["prompt_id"]
    second = api.submit_ok(empty_save())["prompt_id"]
    assert job(api.client, first)["status"] == "pending"
    assert job(api.client, first)["queue_position"] == 1
    assert job(api.client, second)["queue_position"] == 2
    pending = api.client.get(f"{API}/jobs", params={"status": "pending", "limit": 2}).json()["jobs"]
    assert [j["id"] for j in pending] == [second, first]
    api.emu.pause(False)
    wait_job(api.client, second, "success")


# --------------------------------------------------------------------------------------------
# what ComfyUI forgets, the ledger answers

def test_a_withdrawn_prompt_is_answered_interrupted_not_404(api):
    api.emu.pause(True)
    job_id = api.submit_ok(empty_save())["prompt_id"]
    r = api.client.post(f"{API}/workflows/interrupt", json={"prompt_id": job_id})
    assert r.json()["action"] == "removed_from_queue", r.text
    history = api.wait_status(job_id, "interrupted")
    assert history["history"] is None
    assert wait_job(api.client, job_id, "interrupted")["finished_at"]
    assert api.client.get(f"{API}/workflows/{job_id}/images").json()["images"] == []


def test_cleared_prompts_are_answered_interrupted(api):
    api.emu.pause(True)
    ids = [api.submit_ok(empty_save())["prompt_id"] for _ in range(3)]
    assert api.client.post(f"{API}/queue/clear", json={"clear": True}).json()["removed"] == 3
    for job_id in ids:
        assert api.wait_status(job_id, "interrupted")["status"] == "interrupted"
    listed = api.client.get(f"{API}/jobs", params={"status": "interrupted", "limit": 3}).json()["jobs"]
    assert [j["id"] for j in listed] == ids[::-1]


def test_a_prompt_lost_in_a_comfyui_restart_is_lost_not_404(api):
    api.emu.pause(True)
    job_id = api.submit_ok(empty_save())["prompt_id"]
    api.emu.http.post("/__emulator/restart", json={}).raise_for_status()
    history = api.wait_status(job_id, "lost")
    assert history["error"]["details"]["exception_type"] == "comfy_gateway.PromptLost"
    assert job(api.client, job_id)["status"] == "lost"


def test_a_finished_prompt_pruned_from_comfyuis_history_is_answered_from_the_ledger(api):
    sub, hist = api.run_to_end(empty_save())
    job_id = sub["prompt_id"]
    api.emu.http.post("/history", json={"delete": [job_id]}).raise_for_status()
    assert not api.emu.history(job_id)
    history = api.history(job_id).json()
    assert history["status"] == "success" and history["history"] is None
    assert history["outputs"] == hist["outputs"]
    images = api.client.get(f"{API}/workflows/{job_id}/images").json()["images"]
    assert [i["filename"] for i in images] == [i["filename"] for i in job(api.client, job_id)["images"]]


# --------------------------------------------------------------------------------------------
# Idempotency-Key

def test_the_same_key_and_body_replays_the_first_answer_and_queues_nothing(api):
    body = {"workflow": empty_save(), "client_id": f"idem{unique()}"}
    key = f"key-{unique()}"
    first = api.client.post(f"{API}/workflows/submit", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    counter = api.emu.prompt_counter()
    again = api.client.post(f"{API}/workflows/submit", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert api.emu.prompt_counter() == counter + 1, "the replay reached ComfyUI"
    other = dict(body, front=True)
    conflict = api.client.post(f"{API}/workflows/submit", json=other, headers={"Idempotency-Key": key})
    assert_error(conflict, 409, "IDEMPOTENCY_CONFLICT")
    listed = api.client.get(f"{API}/jobs", params={"client_id": body["client_id"]}).json()["jobs"]
    assert len(listed) == 1


def test_a_malformed_key_is_422_and_a_refused_submit_frees_its_key(api):
    bad = api.client.post(f"{API}/workflows/submit", json={"workflow": empty_save()},
                          headers={"Idempotency-Key": "has space"})
    assert_error(bad, 422, "INVALID_REQUEST")
    key = f"key-{unique()}"
    unknown_node = {"1": {"class_type": "NoSuchNode", "inputs": {}}}
    refused = api.client.post(f"{API}/workflows/submit", json={"workflow": unknown_node},
                              headers={"Idempotency-Key": key})
    assert_error(refused, 400, "WORKFLOW_VALIDATION_ERROR")
    # ComfyUI refused it, so it never became a job: the key is free for a corrected request.
    ok = api.client.post(f"{API}/workflows/submit", json={"workflow": empty_save()}, headers={"Idempotency-Key": key})
    assert ok.status_code == 200 and "idempotent-replayed" not in ok.headers


def test_a_key_is_in_flight_until_comfyui_answers_and_a_timed_out_submit_is_kept(api):
    """While the key's first submit waits for ComfyUI, a retry is 409 (there is no answer to
    replay yet); once that submit timed out (ComfyUI may have queued it), the job is kept and a
    retry replays it as queued instead of queueing it twice."""
    key = f"key-{unique()}"
    body = {"workflow": empty_save()}
    api.emu.set_faults(hang=["/prompt"])
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(api.client.post, f"{API}/workflows/submit", json=body, headers={"Idempotency-Key": key})
        time.sleep(1.0)
        during = api.client.post(f"{API}/workflows/submit", json=body, headers={"Idempotency-Key": key})
        assert_error(during, 409, "IDEMPOTENCY_CONFLICT")
        assert_error(first.result(timeout=30), 504, "TASK_TIMEOUT")
    api.emu.clear_faults()
    after = api.client.post(f"{API}/workflows/submit", json=body, headers={"Idempotency-Key": key})
    assert after.status_code == 200 and after.headers["idempotent-replayed"] == "true", after.text
    replayed = after.json()
    assert replayed["status"] == "queued" and replayed["number"] is None, replayed
    assert job(api.client, replayed["prompt_id"])["status"] in ("pending", "lost")


def test_a_key_expires_after_24_hours(stack, tmp_path):
    workdir = tmp_path / "expiry"
    key = f"key-{unique()}"
    body = {"workflow": empty_save()}
    with running_gateway(workdir, stack.emu.base) as gw:
        first = gw.client.post(f"{API}/workflows/submit", json=body, headers={"Idempotency-Key": key}).json()
    # The gateway is stopped: age the key by 25 hours in its ledger, as time would.
    db = sqlite3.connect(workdir / "state" / "jobs.db")
    with db:
        db.execute("UPDATE idempotency_keys SET created_at = created_at - 25 * 3600 * 1000 WHERE key = ?", (key,))
    db.close()
    with running_gateway(workdir, stack.emu.base) as gw:
        again = gw.client.post(f"{API}/workflows/submit", json=body, headers={"Idempotency-Key": key})
        assert again.status_code == 200 and "idempotent-replayed" not in again.headers
        assert again.json()["prompt_id"] != first["prompt_id"]


# --------------------------------------------------------------------------------------------
# paging

def test_paging_through_1000_jobs_sees_each_once_newest_first(api):
    api.emu.pause(True)
    with api.extra_gateway(extra_args=["--max-pending-per-client", 0]) as gw:
        ids = [gw.client.post(f"{API}/workflows/submit", json={"workflow": empty_save(), "client_id": "pager"})
               .json()["prompt_id"] for _ in range(1000)]
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 120, **({"cursor": cursor} if cursor else {})}
            page = gw.client.get(f"{API}/jobs", params=params).json()
            pages += 1
            seen += [j["id"] for j in page["jobs"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == 9
        assert seen == ids[::-1]
        gw.client.post(f"{API}/queue/clear", json={"clear": True})


# --------------------------------------------------------------------------------------------
# start-up faults and restarts

def start_fails(workdir, comfyui_url, *args):
    """Runs the gateway expecting it to refuse to start; returns (exit status, stderr)."""
    command = [str(BINARY), "--host", "127.0.0.1", "--port", "1", "--comfyui-url", comfyui_url, *map(str, args)]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=30)
    return done.returncode, done.stderr


def test_a_corrupt_ledger_stops_the_start_with_exit_2_and_is_left_alone(stack, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    garbage = bytes((i * 37 + 11) % 256 for i in range(16384))
    (state / "jobs.db").write_bytes(garbage)
    status, stderr = start_fails(tmp_path, stack.emu.base)
    assert status == 2, stderr
    lines = [line for line in stderr.splitlines() if "jobs.db" in line]
    assert len(lines) == 1 and "not a ledger or is damaged" in lines[0], stderr
    assert (state / "jobs.db").read_bytes() == garbage


def test_an_unwritable_state_dir_stops_the_start_with_exit_2(stack, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state directory should be")
    status, stderr = start_fails(tmp_path, stack.emu.base, "--state-dir", blocker / "state")
    assert status == 2, stderr
    assert "cannot create the ledger's folder" in stderr and str(blocker) in stderr, stderr


def test_a_second_gateway_on_the_same_ledger_is_refused(stack, tmp_path):
    with running_gateway(tmp_path, stack.emu.base):
        status, stderr = start_fails(tmp_path, stack.emu.base)
    assert status == 2 and "in use by another process" in stderr, stderr


def test_after_kill_9_every_job_is_found_and_ends_once_with_its_real_outcome(stack, tmp_path):
    stack.reset()
    stack.emu.pause(True)
    gw = GatewayProcess(tmp_path, stack.emu.base)
    try:
        client_id = f"killed{unique()}"
        ids = [gw.client.post(f"{API}/workflows/submit", json={"workflow": empty_save(), "client_id": client_id})
               .json()["prompt_id"] for _ in range(19)]
        ids.append(gw.client.post(f"{API}/workflows/submit",
                                  json={"workflow": failing(), "client_id": client_id}).json()["prompt_id"])
        counter = stack.emu.prompt_counter()
        stack.emu.pause(True)
    finally:
        gw.kill()
    # While the gateway is down, every job runs to its end in ComfyUI.
    stack.emu.pause(False)
    wait_until(lambda: not stack.emu.queue()["queue_pending"] and not stack.emu.queue()["queue_running"],
               message="ComfyUI done with the 20 prompts")
    with running_gateway(tmp_path, stack.emu.base) as again:
        for job_id in ids[:-1]:
            assert wait_job(again.client, job_id, "success", "error", "interrupted", "lost")["status"] == "success"
        assert wait_job(again.client, ids[-1], "success", "error", "lost")["status"] == "error"
        listed = again.client.get(f"{API}/jobs", params={"client_id": client_id, "limit": 50}).json()["jobs"]
        assert sorted(j["id"] for j in listed) == sorted(ids)
    # Nothing was submitted again: the counter moved only by its own reading.
    assert stack.emu.prompt_counter() == counter + 1


def test_a_full_disk_refuses_the_submit_it_cannot_record_and_reads_go_on(stack, tmp_path):
    """The gateway may write no file past 3 MB (RLIMIT_FSIZE, as a disk that fills up): once the
    ledger cannot grow, a submit is 503 with the reason and never reaches ComfyUI."""
    stack.reset()
    stack.emu.pause(True)
    padding = "x" * 256 * 1024
    with running_gateway(tmp_path, stack.emu.base, fsize=3 * 1024 * 1024) as gw:
        accepted, refused = [], None
        for _ in range(40):
            r = gw.client.post(f"{API}/workflows/submit",
                               json={"workflow": empty_save(), "extra_data": {"padding": padding}})
            if r.status_code != 200:
                refused = r
                break
            accepted.append(r.json()["prompt_id"])
        assert refused is not None, "the ledger never filled up"
        error = assert_error(refused, 503, "SERVICE_UNAVAILABLE")
        assert "ledger" in error["message"] and error["details"]["reason"], error
        assert accepted, "nothing was accepted before the disk filled up"
        # Nothing is queued without its ledger row: ComfyUI has exactly the accepted ones.
        assert sorted(stack.emu.pending_ids()) == sorted(accepted)
        # Reads go on.
        listed = gw.client.get(f"{API}/jobs", params={"limit": 500}).json()["jobs"]
        assert sorted(j["id"] for j in listed) == sorted(accepted)
        assert gw.client.get("/health").status_code == 200
        gw.client.post(f"{API}/queue/clear", json={"clear": True})


def test_the_event_log_keeps_the_run_and_only_the_latest_progress_per_node(stack, tmp_path):
    stack.reset()
    with running_gateway(tmp_path, stack.emu.base) as gw:
        job_id = gw.client.post(f"{API}/workflows/submit",
                                json={"workflow": slow_save(steps=5, delay_ms=20)}).json()["prompt_id"]
        wait_job(gw.client, job_id, "success")
    db = sqlite3.connect(tmp_path / "state" / "jobs.db")
    try:
        events = db.execute("SELECT sequence, type, data FROM job_events WHERE job_id = ? ORDER BY sequence",
                            (job_id,)).fetchall()
        progress = db.execute("SELECT node, data FROM job_progress WHERE job_id = ?", (job_id,)).fetchall()
    finally:
        db.close()
    assert [e[0] for e in events] == list(range(1, len(events) + 1))
    types = [e[1] for e in events]
    assert types[0] == "status" and types[-1] == "result", types
    assert "executing" in types and "executed" in types and "progress" not in types
    assert types.index("executing") < types.index("executed")
    [(node, data)] = progress
    assert node == "2" and json.loads(data)["value"] == 5 == json.loads(data)["max"]
    assert json.loads(events[-1][2])["status"] == "success"
