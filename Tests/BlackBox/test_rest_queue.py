"""REST black-box tests: /api/v1/queue/status and /api/v1/queue/clear (docs/api-contract.md "Queue",
README.md "The API"), against the real gateway in front of the ComfyUI emulator."""
import uuid

import pytest

from rest_stack import API, api, assert_error, empty_save, field_names, stack  # noqa: F401


def entry(sub, client_id):
    return {"number": sub["number"], "prompt_id": sub["prompt_id"], "client_id": client_id}


def trimmed(entries):
    return [{k: e.get(k) for k in ("number", "prompt_id", "client_id")} for e in entries]


def test_queue_status_when_idle(api):
    body = api.queue_status()
    assert body["running"] == [] and body["pending"] == []
    assert body["running_count"] == 0 and body["pending_count"] == 0


def test_queue_status_is_normalised_and_in_run_order(api):
    running = api.start_running()
    running_number = next(i[0] for i in api.emu.queue()["queue_running"] if i[1] == running)
    b = api.submit_ok(empty_save(), client_id="client-b")
    c = api.submit_ok(empty_save(), client_id="client-c")
    d = api.submit_ok(empty_save(), client_id="client-d", front=True)  # jumps ahead of b and c
    e = api.emu.submit(empty_save()).json()                            # straight to ComfyUI, no client id
    f = api.submit_ok(empty_save(), client_id="client-f", front=True)  # ahead of d (more negative)
    assert d["number"] < b["number"] and f["number"] < d["number"]

    body = api.queue_status()
    assert body["running_count"] == 1
    assert body["pending_count"] == 5
    assert len(body["running"]) == 1
    assert body["running"][0]["prompt_id"] == running
    assert body["running"][0]["number"] == running_number
    expected = [entry(f, "client-f"), entry(d, "client-d"), entry(b, "client-b"), entry(c, "client-c"),
                entry({"number": int(e["number"]), "prompt_id": e["prompt_id"]}, None)]
    assert trimmed(body["pending"]) == expected
    for item in body["pending"] + body["running"]:
        assert isinstance(item["number"], int) and not isinstance(item["number"], bool)
    # The history's queue_position agrees with that order (1 = next).
    for position, item in enumerate(expected, start=1):
        r = api.history(item["prompt_id"])
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["queue_position"]) == ("pending", position)


def test_queue_status_client_id_of_generated_client(api):
    api.emu.pause(True)
    sub = api.submit_ok(empty_save())
    [item] = api.queue_status()["pending"]
    assert item["prompt_id"] == sub["prompt_id"]
    # The generated client id is the one submit answered (or null: none was given).
    assert item["client_id"] in (sub["client_id"], None)


def test_queue_status_sorts_comfyuis_heap_order(api):
    """ComfyUI's queue_pending is a raw binary heap; the gateway lists run order."""
    api.emu.pause(True)
    subs = [api.submit_ok(empty_save(), client_id=f"heap-{i}", front=(i % 2 == 1)) for i in range(7)]
    expected = sorted(subs, key=lambda s: (s["number"], s["prompt_id"]))
    raw_order = api.emu.pending_ids()
    body = api.queue_status()
    assert [p["prompt_id"] for p in body["pending"]] == [s["prompt_id"] for s in expected], raw_order
    assert body["pending_count"] == 7


def test_clear_all_pending_keeps_the_running_prompt(api):
    running = api.start_running()
    pending = [api.submit_ok(empty_save())["prompt_id"] for _ in range(3)]
    assert set(api.emu.pending_ids()) == set(pending)
    r = api.client.post(f"{API}/queue/clear", json={"clear": True})
    assert r.status_code == 200, r.text
    assert r.json() == {"cleared": True, "removed": 3}
    assert api.emu.pending_ids() == []
    assert api.emu.running_ids() == [running]
    body = api.queue_status()
    assert (body["running_count"], body["pending_count"]) == (1, 0)
    assert api.status(running) == "running"


def test_clear_when_nothing_is_pending(api):
    r = api.client.post(f"{API}/queue/clear", json={"clear": True})
    assert r.status_code == 200, r.text
    assert r.json() == {"cleared": True, "removed": 0}


def test_delete_removes_only_the_named_pending_prompts(api):
    running = api.start_running()
    a, b, c = (api.submit_ok(empty_save())["prompt_id"] for _ in range(3))
    r = api.client.post(f"{API}/queue/clear", json={"delete": [b, str(uuid.uuid4()), running]})
    assert r.status_code == 200, r.text
    assert r.json() == {"cleared": False, "removed": 1}
    assert sorted(api.emu.pending_ids()) == sorted([a, c])
    assert [p["prompt_id"] for p in api.queue_status()["pending"]] == [a, c]
    assert api.emu.running_ids() == [running]  # a running id in delete is not touched


def test_delete_with_clear_false(api):
    api.emu.pause(True)
    a, b = (api.submit_ok(empty_save())["prompt_id"] for _ in range(2))
    r = api.client.post(f"{API}/queue/clear", json={"clear": False, "delete": [a]})
    assert r.status_code == 200, r.text
    assert r.json() == {"cleared": False, "removed": 1}
    assert api.emu.pending_ids() == [b]


def test_clear_and_delete_together(api):
    api.emu.pause(True)
    ids = [api.submit_ok(empty_save())["prompt_id"] for _ in range(3)]
    r = api.client.post(f"{API}/queue/clear", json={"clear": True, "delete": [ids[1]]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cleared"] is True
    assert body["removed"] == 3
    assert api.emu.pending_ids() == []


@pytest.mark.parametrize("payload,field", [
    ({}, None),
    ({"clear": False}, None),
    ({"clear": False, "delete": None}, None),
    ({"clear": "yes"}, "clear"),
    ({"clear": 1}, "clear"),
    ({"delete": "abc"}, "delete"),
    ({"delete": [1, 2]}, "delete"),
    ({"delete": [None]}, "delete"),
    ({"delete": {"a": "b"}}, "delete"),
])
def test_clear_invalid_bodies_are_422(api, payload, field):
    api.emu.pause(True)
    keep = api.submit_ok(empty_save())["prompt_id"]
    r = api.client.post(f"{API}/queue/clear", json=payload)
    error = assert_error(r, 422, "INVALID_REQUEST")
    names = field_names(error)
    if field is not None:
        assert any(n == field or n.startswith(field + ".") or n.startswith(field + "[") for n in names), names
    assert api.emu.pending_ids() == [keep]


@pytest.mark.parametrize("raw", [b"{", b"clear=true", b"[]", b"true"])
def test_clear_malformed_json_is_400(api, raw):
    r = api.client.post(f"{API}/queue/clear", content=raw, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "INVALID_REQUEST")


def test_queue_calls_answered_with_an_error_by_comfyui_are_502(api):
    api.emu.set_faults(status={"/queue": 500})
    assert_error(api.client.get(f"{API}/queue/status"), 502, "QUEUE_OPERATION_ERROR")
    assert_error(api.client.post(f"{API}/queue/clear", json={"clear": True}), 502, "QUEUE_OPERATION_ERROR")
    api.emu.set_faults(status={"/interrupt": 500})
    assert_error(api.client.post(f"{API}/workflows/interrupt", json={}), 502, "QUEUE_OPERATION_ERROR")
    api.emu.clear_faults()
    assert api.client.get(f"{API}/queue/status").status_code == 200
