"""HTTP behaviour: uploads (collision rules), /view error codes, the Origin check, malformed
JSON, /api aliases, history paging, queue priority, validation shapes, interrupt rules."""
import time

import httpx
import pytest

from emu_helpers import EMPTY_SAVE, png, slow_prompt, submit, wait_history

TEXT_500 = "500 Internal Server Error\n\nServer got itself in trouble"


def upload(emu, content, name="up.png", field="image", **fields):
    return httpx.post(emu.base + "/upload/image", files={field: (name, content, "image/png")},
                      data={k: str(v) for k, v in fields.items()})


def assert_empty(r, status):
    assert r.status_code == status
    assert r.content == b""
    assert "content-type" not in r.headers


# -- uploads ---------------------------------------------------------------------------------

def test_upload_collision_rules(emulator):
    a, b, c = png((1, 2, 3)), png((4, 5, 6)), png((7, 8, 9))
    assert upload(emulator, a).json() == {"name": "up.png", "subfolder": "", "type": "input"}
    assert upload(emulator, b).json()["name"] == "up (1).png"          # different content: renamed
    assert upload(emulator, a).json()["name"] == "up.png"              # identical (sha256): kept
    assert upload(emulator, b).json()["name"] == "up (1).png"          # identical to the (1) copy
    assert upload(emulator, c).json()["name"] == "up (2).png"
    assert upload(emulator, c, overwrite="true").json()["name"] == "up.png"
    assert (emulator.root / "input" / "up.png").read_bytes() == c
    assert upload(emulator, a, overwrite="1").json()["name"] == "up.png"
    assert upload(emulator, b, overwrite="yes").json()["name"] == "up (1).png"  # only "true"/"1"
    r = upload(emulator, a, subfolder="gw/deep", type="temp")
    assert r.json() == {"name": "up.png", "subfolder": "gw/deep", "type": "temp"}
    assert (emulator.root / "temp" / "gw" / "deep" / "up.png").exists()
    assert upload(emulator, a, type="output").json()["type"] == "output"


def test_upload_errors(emulator):
    assert_empty(upload(emulator, png(), field="file"), 400)               # no image part
    assert_empty(upload(emulator, png(), subfolder="../.."), 400)          # escapes input/
    assert_empty(upload(emulator, png(), name="../../evil.png"), 400)
    assert upload(emulator, png(), type="bogus").status_code == 500        # unhandled in ComfyUI
    r = httpx.post(emulator.base + "/upload/image", data={"image": "not a file"})
    assert r.status_code == 500


def test_upload_then_load_image(emulator):
    name = upload(emulator, png((0, 0, 255), (20, 10)), subfolder="sub").json()["name"]
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": f"sub/{name}"}},
              "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
              "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inv/x"}}}
    pid = submit(emulator, prompt).json()["prompt_id"]
    out = wait_history(emulator, pid)["outputs"]["3"]["images"]
    assert out == [{"filename": "x_00001_.png", "subfolder": "inv", "type": "output"}]
    r = httpx.get(emulator.base + "/view", params={"filename": "x_00001_.png", "subfolder": "inv"})
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    from PIL import Image
    import io
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (20, 10) and img.getpixel((0, 0))[:3] == (255, 255, 0)
    # " [output]" annotations work for LoadImage too
    prompt["1"]["inputs"]["image"] = "inv/x_00001_.png [output]"
    prompt["3"]["inputs"]["filename_prefix"] = "back"
    assert wait_history(emulator, submit(emulator, prompt).json()["prompt_id"])["status"]["completed"]


def test_object_info_lists_uploads(emulator):
    upload(emulator, png(), name="listed.png")
    info = httpx.get(emulator.base + "/object_info/LoadImage").json()
    assert info["LoadImage"]["input"]["required"]["image"] == [["listed.png"], {"image_upload": True}]
    assert httpx.get(emulator.base + "/api/object_info/NoSuchNode").json() == {}
    everything = httpx.get(emulator.base + "/object_info").json()
    for name in ("EmptyImage", "SaveImage", "SlowProgress", "FailAlways", "GetImageSize"):
        assert everything[name]["name"] == name
    assert everything["SlowProgress"]["python_module"] == "custom_nodes.gateway_test_nodes"
    assert everything["EmptyImage"]["input"]["required"]["width"] == \
        ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}]
    assert everything["SaveImage"]["input"]["hidden"] == {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}


# -- /view -------------------------------------------------------------------------------------

def test_view_rules(emulator):
    out = emulator.root / "output"
    (out / "sub").mkdir()
    (out / "sub" / "a.png").write_bytes(png())
    (out / "page.html").write_text("<b>x</b>")
    (emulator.root / "input" / "in.webp").write_bytes(b"RIFF0000WEBP")
    view = lambda **q: httpx.get(emulator.base + "/view", params=q)  # noqa: E731

    r = view(filename="a.png", subfolder="sub")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"] == 'filename="a.png"'
    assert view(filename="sub/a.png").status_code == 404       # "/" in filename does not select a dir
    assert view(filename="in.webp [input]", type="temp").headers["content-type"] == "image/webp"
    assert view(filename="page.html").headers["content-type"] == "application/octet-stream"
    ranged = httpx.get(emulator.base + "/view?filename=a.png&subfolder=sub", headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 206 and ranged.content == b"\x89PNG"

    assert_empty(view(filename="missing.png"), 404)
    assert_empty(view(type="output"), 404)                      # no filename parameter
    assert_empty(view(filename=""), 400)
    assert_empty(view(filename="../../etc/passwd"), 400)
    assert_empty(view(filename="/etc/passwd"), 400)
    assert_empty(view(filename="a.png", type="bogus"), 400)
    assert_empty(view(filename="passwd", subfolder="../../../../etc"), 403)
    assert_empty(httpx.get(emulator.base + "/view?filename=..%2F..%2Fetc%2Fpasswd"), 400)


def test_view_preview_and_channels(emulator):
    (emulator.root / "output" / "p.png").write_bytes(png((9, 9, 9), (40, 30)))
    base = emulator.base + "/view?filename=p.png"
    r = httpx.get(base + "&preview=webp;50")
    assert r.headers["content-type"] == "image/webp" and r.content[:4] == b"RIFF"
    assert httpx.get(base + "&preview=jpeg;80").headers["content-type"] == "image/jpeg"
    assert httpx.get(base + "&preview=gif").headers["content-type"] == "image/webp"
    for channel in ("a", "rgb"):
        r = httpx.get(base + f"&channel={channel}")
        assert r.headers["content-type"] == "image/png" and r.content.startswith(b"\x89PNG")
    (emulator.root / "output" / "t.txt").write_text("hello")
    assert httpx.get(emulator.base + "/view?filename=t.txt&preview=webp").status_code == 500


# -- cross-cutting -----------------------------------------------------------------------------

@pytest.mark.parametrize("origin,status", [
    (None, 200),
    ("http://127.0.0.1:{port}", 200),
    ("http://127.0.0.1", 200),                # port ignored when one side omits it
    ("http://localhost:{port}", 403),
    ("http://evil.example", 403),
    ("http://127.0.0.1:1", 403),
])
def test_origin_check(emulator, origin, status):
    headers = {"Host": f"127.0.0.1:{emulator.port}"}
    if origin:
        headers["Origin"] = origin.format(port=emulator.port)
    r = httpx.get(emulator.base + "/api/queue", headers=headers)
    assert r.status_code == status
    if status == 403:
        assert_empty(r, 403)


def test_origin_check_only_for_loopback_hosts(emulator):
    r = httpx.get(emulator.base + "/queue", headers={"Host": "192.0.2.7:8188", "Origin": "http://evil.example"})
    assert r.status_code == 200


def test_origin_check_on_websocket(emulator):
    from emu_helpers import ws_connect
    with pytest.raises(Exception) as info:
        ws_connect(emulator, "o", origin="http://evil.example")
    assert "403" in str(info.value)
    ws = ws_connect(emulator, "o", origin=f"http://127.0.0.1:{emulator.port}")
    ws.close()


@pytest.mark.parametrize("path", ["/prompt", "/queue", "/history", "/free", "/api/prompt"])
def test_malformed_json_is_a_500(emulator, path):
    r = httpx.post(emulator.base + path, content=b"{not json")
    assert r.status_code == 500 and r.text == TEXT_500
    assert r.headers["content-type"].startswith("text/plain")


def test_bad_query_ints_are_500(emulator):
    assert httpx.get(emulator.base + "/history?max_items=abc").status_code == 500
    assert httpx.get(emulator.base + "/history?offset=x").status_code == 500


def test_misc_routes(emulator):
    assert httpx.get(emulator.base + "/features").json() == {"supports_preview_metadata": True,
                                                              "max_upload_size": 104857600}
    stats = httpx.get(emulator.base + "/api/system_stats").json()
    assert stats["system"]["comfyui_version"] == "0.3.64"
    assert set(stats["devices"][0]) == {"name", "type", "index", "vram_total", "vram_free",
                                         "torch_vram_total", "torch_vram_free"}
    assert_empty(httpx.post(emulator.base + "/free", json={"free_memory": True}), 200)
    assert httpx.get(emulator.base + "/api/jobs").status_code == 404
    assert httpx.delete(emulator.base + "/prompt").status_code == 405
    assert httpx.get(emulator.base + "/prompt").json() == {"exec_info": {"queue_remaining": 0}}


# -- /prompt, /queue, /history -----------------------------------------------------------------

def test_priority_numbers_and_queue_order(emulator):
    httpx.post(emulator.base + "/__emulator/pause", json={"paused": True})
    assert submit(emulator, {"1": {"class_type": "Nope", "inputs": {}}}).status_code == 400  # number 0 used
    a = submit(emulator, EMPTY_SAVE).json()
    b = submit(emulator, EMPTY_SAVE, front=True).json()
    c = submit(emulator, EMPTY_SAVE, number=12.5, front=True).json()
    d = submit(emulator, EMPTY_SAVE, number="5").json()
    e = submit(emulator, EMPTY_SAVE, prompt_id=123).json()
    assert (a["number"], b["number"], c["number"], d["number"], e["number"]) == (1, -2, 12.5, 5.0, 3)
    assert e["prompt_id"] == "123"
    q = httpx.get(emulator.base + "/queue").json()
    assert all(len(item) == 5 for item in q["queue_pending"])
    order = [i[1] for i in sorted(q["queue_pending"], key=lambda i: (i[0], i[1]))]
    assert order == [b["prompt_id"], a["prompt_id"], "123", d["prompt_id"], c["prompt_id"]]
    assert httpx.get(emulator.base + "/prompt").json() == {"exec_info": {"queue_remaining": 5}}
    httpx.post(emulator.base + "/__emulator/pause", json={"paused": False})
    finished = [wait_history(emulator, pid) for pid in order]
    hist = httpx.get(emulator.base + "/history").json()
    assert list(hist) == order                                  # completion order
    assert finished[0]["prompt"][3] == {}


def test_history_paging(emulator):
    ids = []
    for i in range(5):
        ids.append(submit(emulator, EMPTY_SAVE).json()["prompt_id"])
        wait_history(emulator, ids[-1])
    h = lambda q: list(httpx.get(emulator.base + "/history" + q).json())  # noqa: E731
    assert h("") == ids
    assert h("?max_items=2") == ids[3:]
    assert h("?offset=3") == ids[3:]
    assert h("?max_items=2&offset=1") == ids[1:3]
    assert h("?max_items=0") == []
    assert httpx.post(emulator.base + "/history", json={"delete": [ids[0], "unknown"]}).content == b""
    assert h("") == ids[1:]
    httpx.post(emulator.base + "/history", json={"clear": True})
    assert h("") == []


def test_queue_delete_and_clear(emulator):
    from emu_helpers import drain, recv_frame, ws_connect
    ws = ws_connect(emulator, "q")
    recv_frame(ws)
    httpx.post(emulator.base + "/__emulator/pause", json={"paused": True})
    ids = [submit(emulator, EMPTY_SAVE, client_id="q").json()["prompt_id"] for _ in range(3)]
    drain(ws)
    assert_empty(httpx.post(emulator.base + "/queue", json={"delete": [ids[0], "nope"]}), 200)
    assert [f["data"]["status"]["exec_info"]["queue_remaining"] for f in drain(ws)] == [2]
    httpx.post(emulator.base + "/queue", json={"delete": [ids[1]]})
    httpx.post(emulator.base + "/queue", json={"delete": [ids[2]]})   # the last one: wipe + update
    assert [f["data"]["status"]["exec_info"]["queue_remaining"] for f in drain(ws)] == [1, 0, 0]
    httpx.post(emulator.base + "/queue", json={"clear": True})
    assert [f["type"] for f in drain(ws)] == ["status"]
    httpx.post(emulator.base + "/__emulator/pause", json={"paused": False})
    for pid in ids:
        assert httpx.get(f"{emulator.base}/history/{pid}").json() == {}
    ws.close()


def test_validation_example_c(emulator):
    prompt = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 0, "height": 64, "batch_size": 1, "color": 0}},
        "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "lanczos4",
                                                     "width": 128, "height": 128, "crop": "disabled"}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0]}},
    }
    r = submit(emulator, prompt)
    assert r.status_code == 400
    assert r.json() == {
        "error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                  "details": "Required input is missing: filename_prefix", "extra_info": {}},
        "node_errors": {
            "1": {"errors": [{"type": "value_smaller_than_min", "message": "Value 0 smaller than min of 1",
                              "details": "width", "extra_info": {
                                  "input_name": "width",
                                  "input_config": ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}],
                                  "received_value": 0}}],
                  "dependent_outputs": ["3"], "class_type": "EmptyImage"},
            "2": {"errors": [{"type": "value_not_in_list", "message": "Value not in list",
                              "details": "upscale_method: 'lanczos4' not in ['nearest-exact', 'bilinear', 'area', 'bicubic', 'lanczos']",
                              "extra_info": {"input_name": "upscale_method",
                                             "input_config": [["nearest-exact", "bilinear", "area", "bicubic", "lanczos"], {}],
                                             "received_value": "lanczos4"}}],
                  "dependent_outputs": ["3"], "class_type": "ImageScale"},
            "3": {"errors": [{"type": "required_input_missing", "message": "Required input is missing",
                              "details": "filename_prefix", "extra_info": {"input_name": "filename_prefix"}}],
                  "dependent_outputs": ["3"], "class_type": "SaveImage"},
        },
    }


def test_validation_other_shapes(emulator):
    r = submit(emulator, {"1": {"inputs": {}}}).json()
    assert r["error"]["type"] == "invalid_prompt" and "class_type" in r["error"]["message"]
    assert r["error"]["details"] == "Node ID '#1'"
    bad_link = {"1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
                "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}
    err = submit(emulator, bad_link).json()["node_errors"]["2"]["errors"][0]
    assert err["type"] == "return_type_mismatch"
    assert err["details"] == "images, received_type(LATENT) mismatch input_type(IMAGE)"
    missing = {"1": {"class_type": "LoadImage", "inputs": {"image": "nope.png"}},
               "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}
    err = submit(emulator, missing).json()["node_errors"]["1"]["errors"][0]
    assert err == {"type": "custom_validation_failed", "message": "Custom validation failed for node",
                   "details": "image - Invalid image file: nope.png", "extra_info": {"input_name": "image"}}
    assert submit(emulator, EMPTY_SAVE, partial_execution_targets=["1"]).json()["error"]["type"] == "prompt_no_outputs"
    r = httpx.post(emulator.base + "/prompt", json={"client_id": "x"}).json()
    assert r == {"error": {"type": "no_prompt", "message": "No prompt provided",
                           "details": "No prompt provided", "extra_info": {}}, "node_errors": {}}


def test_coercion_and_partially_valid_prompt(emulator):
    prompt = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": "16", "height": 16.9, "batch_size": 1,
                                                     "color": {"__value__": 5}}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": 7}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}},
        "9": {"class_type": "ImageInvert", "inputs": {"image": ["404", 0]}},   # unreachable: not validated
    }
    r = submit(emulator, prompt, extra_data={"extra_pnginfo": {"workflow": {}}, "api_key_comfy_org": "s"})
    assert r.status_code == 200
    body = r.json()
    assert list(body["node_errors"]) == ["3"]
    assert body["node_errors"]["3"]["errors"][0]["type"] == "required_input_missing"
    entry = wait_history(emulator, body["prompt_id"])
    assert entry["prompt"][4] == ["2"]
    assert entry["prompt"][2]["1"]["inputs"] == {"width": 16, "height": 16, "batch_size": 1, "color": 5}
    assert entry["prompt"][2]["2"]["inputs"]["filename_prefix"] == "7"
    assert entry["prompt"][3] == {"extra_pnginfo": {"workflow": {}}}  # credential keys stripped
    assert entry["outputs"]["2"]["images"][0]["filename"] == "7_00001_.png"


def test_interrupt_rules(emulator):
    assert_empty(httpx.post(emulator.base + "/interrupt"), 200)        # idle, empty body
    assert_empty(httpx.post(emulator.base + "/interrupt", content=b"garbage"), 200)
    pid = submit(emulator, slow_prompt(steps=4, delay_ms=30)).json()["prompt_id"]
    # the global interrupt sent while idle was reset when the prompt started
    assert wait_history(emulator, pid)["status"]["status_str"] == "success"

    pid = submit(emulator, slow_prompt(steps=40, delay_ms=25, color=2)).json()["prompt_id"]
    time.sleep(0.2)
    httpx.post(emulator.base + "/interrupt", json={"prompt_id": "not-" + pid})
    time.sleep(0.1)
    assert httpx.get(f"{emulator.base}/history/{pid}").json() == {}
    httpx.post(emulator.base + "/interrupt", json={"prompt_id": pid})
    entry = wait_history(emulator, pid)
    assert entry["status"]["status_str"] == "error" and entry["status"]["completed"] is False
    last = entry["status"]["messages"][-1]
    assert last[0] == "execution_interrupted"
    assert last[1]["node_id"] == "2" and last[1]["executed"] == ["1"] and "timestamp" in last[1]
    assert entry["outputs"] == {} and entry["meta"] == {}


def test_options_answered_by_the_origin_middleware(emulator):
    assert_empty(httpx.options(emulator.base + "/prompt"), 200)
    assert_empty(httpx.options(emulator.base + "/no/such/route"), 200)


def test_cors_mode_replaces_the_origin_check(tmp_path):
    from conftest import EmulatorProcess
    emu = EmulatorProcess(tmp_path / "cors", extra_args=["--enable-cors-header"])
    try:
        r = httpx.get(emu.base + "/queue", headers={"Origin": "http://evil.example"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
        assert httpx.options(emu.base + "/prompt").headers["access-control-allow-methods"] == \
            "POST, GET, DELETE, PUT, OPTIONS"
    finally:
        emu.stop()


def test_upload_size_limit(tmp_path):
    from conftest import EmulatorProcess
    emu = EmulatorProcess(tmp_path / "small", extra_args=["--max-upload-size", "1"])
    try:
        assert httpx.get(emu.base + "/features").json()["max_upload_size"] == 1048576.0
        r = httpx.post(emu.base + "/upload/image", files={"image": ("big.png", b"0" * (2 << 20), "image/png")})
        assert r.status_code == 413
    finally:
        emu.stop()
