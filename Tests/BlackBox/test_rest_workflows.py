"""REST black-box tests: /api/v1/workflows/submit, /{id}/history, /{id}/images, /interrupt
(docs/api-contract.md "Workflows", README.md "The API"), against the real gateway in front of the
ComfyUI emulator."""
import re
import urllib.parse
import uuid

import httpx
import pytest

from rest_stack import API, api, assert_error, empty_save, failing, field_names, stack, unique  # noqa: F401

HEX32 = re.compile(r"[0-9a-f]{32}")


# ------------------------------------------------------------------------------------------
# submit

def test_submit_success_answers_queued_and_reaches_comfyui(api):
    workflow = empty_save()
    r = api.submit(workflow, client_id="rest-client-1")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers.get("x-request-id")
    body = r.json()
    assert isinstance(body["prompt_id"], str) and body["prompt_id"]
    assert isinstance(body["number"], int) and not isinstance(body["number"], bool)
    assert body["client_id"] == "rest-client-1"
    assert body["status"] == "queued"
    assert "node_errors" not in body, "node_errors is only present when non-empty"
    # ComfyUI really got the graph, unchanged, under that prompt id.
    item = api.emu.wait_history(body["prompt_id"])
    assert item["prompt"][1] == body["prompt_id"]
    assert item["prompt"][2] == workflow
    assert item["status"]["status_str"] == "success"


def test_submit_without_client_id_generates_one(api):
    body = api.submit_ok(empty_save())
    assert HEX32.fullmatch(body["client_id"]), body
    other = api.submit_ok(empty_save())
    assert other["client_id"] != body["client_id"]
    assert other["prompt_id"] != body["prompt_id"]


def test_submit_numbers_increase(api):
    api.emu.pause(True)
    first = api.submit_ok(empty_save())
    second = api.submit_ok(empty_save())
    assert second["number"] > first["number"]


def test_submit_passes_extra_data_on(api):
    extra = {"extra_pnginfo": {"workflow": {"note": "kept"}}, "rest_marker": f"m{unique()}"}
    body = api.submit_ok(empty_save(), extra_data=extra)
    item = api.emu.wait_history(body["prompt_id"])
    stored = item["prompt"][3]
    assert stored["rest_marker"] == extra["rest_marker"]
    assert stored["extra_pnginfo"] == extra["extra_pnginfo"]


def test_submit_partially_valid_prompt_passes_node_errors_on(api):
    workflow = empty_save()
    # A second output node that fails validation (required filename_prefix missing):
    # ComfyUI queues the valid output and reports the other in node_errors (200).
    workflow["3"] = {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}
    direct = api.emu.submit(workflow)
    assert direct.status_code == 200 and direct.json()["node_errors"], direct.text
    body = api.submit_ok(workflow)
    assert body["status"] == "queued"
    assert body["node_errors"] == direct.json()["node_errors"]
    assert body["node_errors"]["3"]["errors"][0]["type"] == "required_input_missing"


@pytest.mark.parametrize("payload", [
    {},
    {"client_id": "x"},
    {"workflow_": {}},
])
def test_submit_missing_workflow_is_422(api, payload):
    r = api.client.post(f"{API}/workflows/submit", json=payload)
    error = assert_error(r, 422, "INVALID_REQUEST")
    assert "workflow" in field_names(error)


@pytest.mark.parametrize("field,value", [
    ("client_id", 5),
    ("client_id", {"a": 1}),
    ("extra_data", "text"),
    ("extra_data", [1, 2]),
    ("front", "yes"),
    ("front", 1),
])
def test_submit_wrong_field_types_are_422(api, field, value):
    r = api.client.post(f"{API}/workflows/submit", json={"workflow": empty_save(), field: value})
    error = assert_error(r, 422, "INVALID_REQUEST")
    assert field in field_names(error)


@pytest.mark.parametrize("raw", [b'{"workflow": ', b"not json at all", b"{'workflow': {}}", b"[1, 2, 3]", b'"workflow"', b"42",
                                 b"null"])
def test_submit_malformed_or_non_object_json_is_400(api, raw):
    r = api.client.post(f"{API}/workflows/submit", content=raw, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "INVALID_REQUEST")


def _node_errors_shape(node_errors):
    assert isinstance(node_errors, dict)
    for node_id, entry in node_errors.items():
        assert isinstance(entry["errors"], list) and entry["errors"], entry
        for e in entry["errors"]:
            assert {"type", "message", "details", "extra_info"} <= set(e), e
        assert isinstance(entry["dependent_outputs"], list), entry
        assert "class_type" in entry, entry


def _comfy_error_shape(details):
    assert set(details) >= {"error", "node_errors"}, details
    error = details["error"]
    assert isinstance(error, dict) and {"type", "message", "details", "extra_info"} <= set(error), error
    assert isinstance(error["type"], str) and error["type"]
    assert isinstance(error["message"], str) and error["message"]
    _node_errors_shape(details["node_errors"])


NODE = "node-417"  # a distinctive node id, so "the error names the node" is a meaningful check

STRUCTURAL = {
    "workflow is a string": ("a graph", None),
    "workflow is a list": ([{"class_type": "EmptyImage", "inputs": {}}], None),
    "workflow is a number": (7, None),
    "workflow is empty": ({}, None),
    "node is not an object": ({NODE: "EmptyImage"}, NODE),
    "node is a list": ({NODE: ["EmptyImage", {}]}, NODE),
    "node without class_type": ({NODE: {"inputs": {"width": 1}}}, NODE),
    "class_type not a string": ({NODE: {"class_type": 12, "inputs": {}}}, NODE),
    "node without inputs": ({NODE: {"class_type": "EmptyImage"}}, NODE),
    "inputs not an object": ({NODE: {"class_type": "EmptyImage", "inputs": [1, 2]}}, NODE),
    "dangling link": ({"1": {"class_type": "EmptyImage",
                             "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
                       NODE: {"class_type": "SaveImage", "inputs": {"images": ["99", 0], "filename_prefix": "x"}}},
                      NODE),
}


@pytest.mark.parametrize("case", list(STRUCTURAL))
def test_structural_check_rejects_before_comfyui(api, case):
    workflow, node = STRUCTURAL[case]
    before = api.emu.prompt_counter()
    r = api.client.post(f"{API}/workflows/submit", json={"workflow": workflow})
    error = assert_error(r, 400, "WORKFLOW_VALIDATION_ERROR")
    _comfy_error_shape(error["details"])
    if node is not None:
        # A node-level check reports the node in node_errors, in ComfyUI's shape.
        assert node in error["details"]["node_errors"], error
        assert error["details"]["node_errors"][node]["errors"], error
    # The gateway's own check: nothing was posted to ComfyUI's /prompt in between.
    assert api.emu.prompt_counter() == before + 1


def test_unknown_class_type_passes_gateway_and_comfyui_rejects_it(api):
    workflow = {"1": {"class_type": "NoSuchNodeAnywhere", "inputs": {"x": 1}},
                "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "u"}}}
    direct = api.emu.submit(workflow)
    assert direct.status_code == 400
    before = api.emu.prompt_counter()
    r = api.client.post(f"{API}/workflows/submit", json={"workflow": workflow})
    error = assert_error(r, 400, "WORKFLOW_VALIDATION_ERROR")
    # It went to ComfyUI (the counter moved by the gateway's submission too) ...
    assert api.emu.prompt_counter() == before + 2
    # ... and ComfyUI's error and node_errors are passed on unchanged.
    assert error["details"]["error"] == direct.json()["error"]
    assert error["details"]["node_errors"] == direct.json()["node_errors"] == {}
    assert error["details"]["error"]["type"] == "invalid_prompt"


def test_comfyui_node_errors_are_passed_on_unchanged(api):
    workflow = empty_save()
    workflow["1"]["inputs"]["width"] = 0  # below min
    direct = api.emu.submit(workflow)
    assert direct.status_code == 400
    r = api.client.post(f"{API}/workflows/submit", json={"workflow": workflow})
    error = assert_error(r, 400, "WORKFLOW_VALIDATION_ERROR")
    assert error["details"]["error"] == direct.json()["error"]
    assert error["details"]["node_errors"] == direct.json()["node_errors"]
    assert error["details"]["error"]["type"] == "prompt_outputs_failed_validation"
    assert error["details"]["node_errors"]["1"]["errors"][0]["type"] == "value_smaller_than_min"


# ------------------------------------------------------------------------------------------
# history

def _assert_not_finished(body, prompt_id, status, position):
    assert body["prompt_id"] == prompt_id
    assert body["status"] == status
    assert body["queue_position"] == position
    assert body["outputs"] == {}
    assert body["messages"] == []
    assert body["error"] is None
    assert body["history"] is None


def test_history_pending(api):
    api.emu.pause(True)
    first = api.submit_ok(empty_save())["prompt_id"]
    second = api.submit_ok(empty_save())["prompt_id"]
    r = api.history(first)
    assert r.status_code == 200, r.text
    _assert_not_finished(r.json(), first, "pending", 1)
    _assert_not_finished(api.history(second).json(), second, "pending", 2)
    api.emu.pause(False)
    assert api.wait_status(second, "success")["queue_position"] is None


def test_history_running(api):
    prompt_id = api.start_running()
    r = api.history(prompt_id)
    assert r.status_code == 200
    _assert_not_finished(r.json(), prompt_id, "running", 0)
    # One pending behind it is first in line.
    behind = api.submit_ok(empty_save())["prompt_id"]
    _assert_not_finished(api.history(behind).json(), behind, "pending", 1)


def test_history_success_mirrors_comfyui(api):
    sub, body = api.run_to_end(empty_save())
    prompt_id = sub["prompt_id"]
    raw = api.emu.history(prompt_id)
    assert body["prompt_id"] == prompt_id
    assert body["status"] == "success"
    assert body["queue_position"] is None
    assert body["error"] is None
    assert body["outputs"] == raw["outputs"]
    assert body["outputs"]["2"]["images"][0]["type"] == "output"
    assert body["messages"] == raw["status"]["messages"]
    assert body["messages"][-1][0] == "execution_success"
    assert body["history"] == raw


def test_history_error_reports_execution_error(api):
    message = f"rest failure {unique()}"
    sub, body = api.run_to_end(failing(message))
    assert body["status"] == "error"
    assert body["queue_position"] is None
    error = body["error"]
    assert error["code"] == "WORKFLOW_EXECUTION_ERROR"
    assert isinstance(error["message"], str) and error["message"]
    details = error["details"]
    assert details["node_id"] == "2"
    assert details["node_type"] == "FailAlways"
    assert details["exception_type"].endswith("RuntimeError")
    assert message in details["exception_message"]
    assert "traceback" in details and details["traceback"]
    raw = api.emu.history(sub["prompt_id"])
    assert body["history"] == raw
    assert body["messages"] == raw["status"]["messages"]
    assert body["messages"][-1][0] == "execution_error"


def test_history_interrupted(api):
    prompt_id = api.start_running()
    r = api.client.post(f"{API}/workflows/interrupt", json={"prompt_id": prompt_id})
    assert r.status_code == 200, r.text
    assert r.json() == {"prompt_id": prompt_id, "action": "interrupted"}
    body = api.wait_status(prompt_id, "interrupted", "error", "success")
    assert body["status"] == "interrupted"
    assert body["error"] is None
    assert body["queue_position"] is None
    assert body["history"] == api.emu.history(prompt_id)
    assert body["messages"][-1][0] == "execution_interrupted"


@pytest.mark.parametrize("prompt_id", [str(uuid.uuid4()), "not-a-uuid", "x" * 80])
def test_history_unknown_id_is_404(api, prompt_id):
    assert_error(api.history(prompt_id), 404, "WORKFLOW_NOT_FOUND")


# ------------------------------------------------------------------------------------------
# images of a prompt

def _query(url):
    parts = urllib.parse.urlsplit(url)
    return parts, {k: v[0] for k, v in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items()}


def test_images_of_finished_prompt_download_the_exact_bytes(api):
    sub, _ = api.run_to_end(empty_save(prefix=f"imgs{unique()}/batch", batch=2, size=24))
    r = api.client.get(f"{API}/workflows/{sub['prompt_id']}/images")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["prompt_id"] == sub["prompt_id"]
    assert body["status"] == "success"
    expected = api.emu.history(sub["prompt_id"])["outputs"]["2"]["images"]
    assert len(expected) == 2
    assert [{k: i[k] for k in ("node_id", "filename", "subfolder", "type")} for i in body["images"]] == \
        [{"node_id": "2", **e} for e in expected]
    for image in body["images"]:
        parts, query = _query(image["url"])
        assert parts.scheme == "http" and parts.netloc == f"127.0.0.1:{api.gw.port}", image["url"]
        assert parts.path == f"{API}/images/download"
        assert query == {"filename": image["filename"], "subfolder": image["subfolder"], "type": "output"}
        download = httpx.get(image["url"], timeout=60)
        assert download.status_code == 200
        assert download.content == api.emu.view(image["filename"], image["subfolder"], "output")


def test_images_of_every_output_kind_sorted_by_numeric_node_id(api):
    u = unique()
    workflow = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 2, "color": u % 0xFFFFFF}},
        "10": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": f"kinds{u}"}},
        "9": {"class_type": "SaveAnimatedWEBP", "inputs": {"images": ["1", 0], "filename_prefix": f"anim{u}",
                                                           "fps": 6.0, "lossless": True, "quality": 80,
                                                           "method": "default"}},
        "3": {"class_type": "EmptyAudio", "inputs": {"duration": 0.05, "sample_rate": 8000, "channels": 1}},
        "2": {"class_type": "SaveAudio", "inputs": {"audio": ["3", 0], "filename_prefix": f"audio{u}/clip"}},
    }
    sub, hist = api.run_to_end(workflow)
    assert hist["status"] == "success", hist
    outputs = api.emu.history(sub["prompt_id"])["outputs"]
    expected = []
    for node_id in ("2", "9", "10"):
        for items in outputs[node_id].values():
            for item in items:
                if isinstance(item, dict) and {"filename", "subfolder", "type"} <= set(item):
                    expected.append({"node_id": node_id, "filename": item["filename"],
                                     "subfolder": item["subfolder"], "type": item["type"]})
    assert len(expected) == 1 + 1 + 2  # audio, animated webp, two PNGs; "animated": [bool] is no file
    body = api.client.get(f"{API}/workflows/{sub['prompt_id']}/images").json()
    assert [{k: i[k] for k in ("node_id", "filename", "subfolder", "type")} for i in body["images"]] == expected
    for image in body["images"]:
        download = httpx.get(image["url"], timeout=60)
        assert download.status_code == 200
        assert download.content == api.emu.view(image["filename"], image["subfolder"], image["type"])


def test_images_while_pending_and_running_are_empty(api):
    running = api.start_running()
    pending = api.submit_ok(empty_save())["prompt_id"]
    for prompt_id, status in ((running, "running"), (pending, "pending")):
        r = api.client.get(f"{API}/workflows/{prompt_id}/images")
        assert r.status_code == 200, r.text
        assert r.json() == {"prompt_id": prompt_id, "status": status, "images": []}


def test_images_of_failed_prompt(api):
    sub, _ = api.run_to_end(failing())
    body = api.client.get(f"{API}/workflows/{sub['prompt_id']}/images").json()
    assert body["status"] == "error"
    assert body["images"] == []


def test_images_unknown_id_is_404(api):
    assert_error(api.client.get(f"{API}/workflows/{uuid.uuid4()}/images"), 404, "WORKFLOW_NOT_FOUND")


# ------------------------------------------------------------------------------------------
# interrupt

@pytest.mark.parametrize("how", ["no body", "empty object", "null id"])
def test_interrupt_without_id_interrupts_whatever_runs(api, how):
    prompt_id = api.start_running()
    url = f"{API}/workflows/interrupt"
    if how == "no body":
        r = api.client.post(url)
    elif how == "empty object":
        r = api.client.post(url, json={})
    else:
        r = api.client.post(url, json={"prompt_id": None})
    assert r.status_code == 200, r.text
    assert r.json() == {"prompt_id": prompt_id, "action": "interrupted"}
    assert api.wait_status(prompt_id, "interrupted", "error", "success")["status"] == "interrupted"


def test_interrupt_without_id_when_idle(api):
    r = api.client.post(f"{API}/workflows/interrupt", json={})
    assert r.status_code == 200, r.text
    assert r.json() == {"prompt_id": None, "action": "interrupted"}


def test_interrupt_pending_id_removes_it_from_the_queue(api):
    running = api.start_running()
    pending = api.submit_ok(empty_save())["prompt_id"]
    other = api.submit_ok(empty_save())["prompt_id"]
    assert set(api.emu.pending_ids()) == {pending, other}
    r = api.client.post(f"{API}/workflows/interrupt", json={"prompt_id": pending})
    assert r.status_code == 200, r.text
    assert r.json() == {"prompt_id": pending, "action": "removed_from_queue"}
    assert api.emu.pending_ids() == [other]
    queue = api.queue_status()
    assert [e["prompt_id"] for e in queue["pending"]] == [other]
    assert [e["prompt_id"] for e in queue["running"]] == [running]
    # The running prompt was not touched; the removed one is gone from ComfyUI, and the ledger
    # answers for it: withdrawn before it ran.
    assert api.status(running) == "running"
    assert api.wait_status(pending, "interrupted")["history"] is None


def test_interrupt_running_id_leaves_pending_alone(api):
    running = api.start_running()
    pending = api.submit_ok(empty_save())["prompt_id"]
    r = api.client.post(f"{API}/workflows/interrupt", json={"prompt_id": running})
    assert r.json() == {"prompt_id": running, "action": "interrupted"}
    assert api.wait_status(running, "interrupted", "error", "success")["status"] == "interrupted"
    assert api.wait_status(pending, "success")["status"] == "success"


def test_interrupt_unknown_or_finished_id_is_404(api):
    assert_error(api.client.post(f"{API}/workflows/interrupt", json={"prompt_id": str(uuid.uuid4())}),
                 404, "WORKFLOW_NOT_FOUND")
    sub, _ = api.run_to_end(empty_save())
    assert_error(api.client.post(f"{API}/workflows/interrupt", json={"prompt_id": sub["prompt_id"]}),
                 404, "WORKFLOW_NOT_FOUND")


@pytest.mark.parametrize("value", [5, ["a"], {"id": "x"}, True])
def test_interrupt_id_not_a_string_is_422(api, value):
    r = api.client.post(f"{API}/workflows/interrupt", json={"prompt_id": value})
    error = assert_error(r, 422, "INVALID_REQUEST")
    assert "prompt_id" in field_names(error)


def test_interrupt_malformed_json_is_400(api):
    r = api.client.post(f"{API}/workflows/interrupt", content=b'{"prompt_id": ',
                        headers={"Content-Type": "application/json"})
    assert_error(r, 400, "INVALID_REQUEST")
