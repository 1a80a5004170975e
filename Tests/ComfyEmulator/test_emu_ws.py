"""WebSocket behaviour: first frames, feature-flag negotiation, preview frame types and order,
socket replacement, event routing (submitting client only, no-client prompts, dropped events),
text frames, and the classic cache as seen on the socket."""
import struct
import time

import httpx

from emu_helpers import (EMPTY_SAVE, collect_until, drain, is_done, png, recv_frame, slow_prompt, submit,
                         types, wait_history, ws_connect)


def test_first_frame_and_anonymous_sid(emulator):
    ws = ws_connect(emulator)
    first = recv_frame(ws)
    sid = first["data"]["sid"]
    assert first["type"] == "status" and len(sid) == 32 and int(sid, 16) >= 0
    assert drain(ws, 0.1) == []
    ws.close()


def test_feature_flags_only_first_valid_json_message(emulator):
    ws = ws_connect(emulator, "ff")
    recv_frame(ws)
    ws.send("not json")                       # ignored, does not count as the first message
    ws.send('{"type": "feature_flags", "data": {"supports_preview_metadata": true}}')
    assert recv_frame(ws) == {"type": "feature_flags",
                              "data": {"supports_preview_metadata": True, "max_upload_size": 104857600}}
    ws.send('{"type": "feature_flags", "data": {}}')  # later ones are ignored
    assert drain(ws, 0.2) == []
    ws.close()

    ws = ws_connect(emulator, "ff2")
    recv_frame(ws)
    ws.send('{"type": "hello"}')
    ws.send('{"type": "feature_flags", "data": {"supports_preview_metadata": true}}')
    assert drain(ws, 0.2) == []
    ws.close()


def test_preview_frames_type1_and_type4(emulator):
    legacy = ws_connect(emulator, "legacy")
    recv_frame(legacy)
    pid = submit(emulator, slow_prompt(steps=2, delay_ms=0, preview=True), client_id="legacy").json()["prompt_id"]
    frames = collect_until(legacy, is_done(pid))
    seq = types(frames)
    i = seq.index("BIN1")
    assert seq[i - 2:i + 1] == ["progress_state", "progress", "BIN1"]    # binary after its progress
    raw = frames[i]["raw"]
    assert struct.unpack(">II", raw[:8]) == (1, 1) and raw[8:10] == b"\xff\xd8"  # JPEG
    legacy.close()

    modern = ws_connect(emulator, "modern")
    recv_frame(modern)
    modern.send('{"type": "feature_flags", "data": {"supports_preview_metadata": true}}')
    recv_frame(modern)
    pid = submit(emulator, slow_prompt(steps=2, delay_ms=0, preview=True, color=9), client_id="modern").json()["prompt_id"]
    frames = collect_until(modern, is_done(pid))
    seq = types(frames)
    i = seq.index("BIN4")
    assert seq[i - 1:i + 2] == ["progress_state", "BIN4", "progress"]    # binary before its progress
    raw = frames[i]["raw"]
    meta_len = struct.unpack(">I", raw[4:8])[0]
    import json
    meta = json.loads(raw[8:8 + meta_len])
    assert meta == {"node_id": "2", "prompt_id": pid, "display_node_id": "2", "parent_node_id": None,
                    "real_node_id": "2", "image_type": "image/jpeg"}
    assert raw[8 + meta_len:8 + meta_len + 2] == b"\xff\xd8"
    assert "BIN1" not in seq
    modern.close()


def test_save_image_websocket_and_get_image_size(emulator):
    ws = ws_connect(emulator, "sw")
    other = ws_connect(emulator, "other")
    recv_frame(ws), recv_frame(other)
    prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 6, "batch_size": 2, "color": 255}},
              "2": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["1", 0]}},
              "3": {"class_type": "GetImageSize", "inputs": {"image": ["1", 0]}},
              "4": {"class_type": "PreviewAny", "inputs": {"source": ["3", 1]}}}
    pid = submit(emulator, prompt, client_id="sw").json()["prompt_id"]
    frames = collect_until(ws, is_done(pid))
    pngs = [f["raw"] for f in frames if f.get("binary") == 1]
    assert len(pngs) == 2 and all(r[4:8] == b"\x00\x00\x00\x02" and r[8:12] == b"\x89PNG" for r in pngs)
    assert not any(f.get("type") == "executed" and f["data"]["node"] == "2" for f in frames)
    executed = [f["data"] for f in frames if f.get("type") == "executed"]
    assert executed[0]["node"] == "4" and executed[0]["output"] == {"text": ["6"]}
    text = [f["raw"] for f in frames if f.get("binary") == 3]
    assert text == [struct.pack(">II", 3, 1) + b"3" + b"width: 8, height: 6\n batch size: 2"]
    # the text frame has no target: every socket gets it, the other socket gets nothing else
    assert [f.get("binary", f.get("type")) for f in drain(other)] == ["status", "status", 3, "status"]
    # SaveImageWebsocket is never cached (IS_CHANGED returns the time)
    pid = submit(emulator, prompt, client_id="sw").json()["prompt_id"]
    frames = collect_until(ws, is_done(pid))
    assert next(f for f in frames if f.get("type") == "execution_cached")["data"]["nodes"] == ["1", "3", "4"]
    assert len([f for f in frames if f.get("binary") == 1]) == 2
    ws.close(), other.close()


def test_events_only_for_submitting_client(emulator):
    mine, other = ws_connect(emulator, "mine"), ws_connect(emulator, "other")
    recv_frame(mine), recv_frame(other)
    pid = submit(emulator, slow_prompt(steps=2, delay_ms=0), client_id="mine").json()["prompt_id"]
    frames = collect_until(mine, is_done(pid))
    assert types(frames) == ["status", "status", "execution_start", "execution_cached",
                             "progress_state", "executing", "progress_state",
                             "progress_state", "executing", "progress_state", "progress",
                             "progress_state", "progress", "progress_state",
                             "progress_state", "executing", "executed", "progress_state",
                             "execution_success", "status", "executing"]
    assert [f["type"] for f in drain(other)] == ["status", "status", "status"]
    # a client id with no socket: its events are dropped, observers still get status only
    pid = submit(emulator, EMPTY_SAVE, client_id="nobody").json()["prompt_id"]
    wait_history(emulator, pid)
    assert [f["type"] for f in drain(other)] == ["status", "status", "status"]
    mine.close(), other.close()


def test_prompt_without_client_id_broadcasts_progress_only(emulator):
    a, b = ws_connect(emulator, "a"), ws_connect(emulator)
    recv_frame(a), recv_frame(b)
    pid = submit(emulator, slow_prompt(steps=2, delay_ms=0, preview=True)).json()["prompt_id"]
    wait_history(emulator, pid)
    time.sleep(0.1)
    for ws in (a, b):
        seq = types(drain(ws))
        assert set(seq) == {"status", "progress_state", "progress", "BIN1"}
    # an interrupted no-client prompt: execution_interrupted goes to everyone
    pid = submit(emulator, slow_prompt(steps=50, delay_ms=20, color=3)).json()["prompt_id"]
    time.sleep(0.2)
    httpx.post(emulator.base + "/interrupt")
    wait_history(emulator, pid)
    time.sleep(0.1)
    for ws in (a, b):
        assert "execution_interrupted" in types(drain(ws))
    a.close(), b.close()


def test_replaced_socket_receives_nothing(emulator):
    old = ws_connect(emulator, "same")
    recv_frame(old)
    new = ws_connect(emulator, "same")
    assert recv_frame(new)["data"]["sid"] == "same"
    pid = submit(emulator, EMPTY_SAVE, client_id="same").json()["prompt_id"]
    collect_until(new, is_done(pid))
    assert drain(old) == []          # not even status broadcasts
    # ComfyUI's hazard: closing the old socket unregisters the id, so the new one goes deaf
    old.close()
    time.sleep(0.1)
    pid = submit(emulator, EMPTY_SAVE, client_id="same").json()["prompt_id"]
    wait_history(emulator, pid)
    assert drain(new) == []
    new.close()


def test_reconnect_during_a_node_sends_executing_without_prompt_id(emulator):
    ws = ws_connect(emulator, "rc")
    recv_frame(ws)
    pid = submit(emulator, slow_prompt(steps=10, delay_ms=30), client_id="rc").json()["prompt_id"]
    collect_until(ws, lambda f: f.get("type") == "progress")
    ws.close()
    ws = ws_connect(emulator, "rc")
    assert recv_frame(ws)["type"] == "status"
    assert recv_frame(ws) == {"type": "executing", "data": {"node": "2"}}
    collect_until(ws, is_done(pid))
    ws.close()


def test_failing_node_error_shape(emulator):
    ws = ws_connect(emulator, "f")
    recv_frame(ws)
    prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
              "2": {"class_type": "FailAlways", "inputs": {"image": ["1", 0], "message": "kaput"}},
              "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "f"}}}
    pid = submit(emulator, prompt, client_id="f").json()["prompt_id"]
    frames = collect_until(ws, is_done(pid))
    assert types(frames)[-3:] == ["execution_error", "status", "executing"]
    err = frames[-3]["data"]
    assert err["exception_message"] == "kaput\n" and err["exception_type"] == "RuntimeError"
    assert err["node_id"] == "2" and err["node_type"] == "FailAlways" and err["executed"] == ["1"]
    assert err["current_outputs"] == ["1", "2", "3"] and err["current_inputs"]["message"] == ["kaput"]
    assert err["current_inputs"]["image"][0].startswith("tensor(")
    assert all(isinstance(line, str) for line in err["traceback"]) and isinstance(err["timestamp"], int)
    entry = wait_history(emulator, pid)
    assert entry["status"]["status_str"] == "error" and entry["outputs"] == {}
    ws.close()


def test_classic_cache(emulator):
    ws = ws_connect(emulator, "cache")
    recv_frame(ws)
    name = httpx.post(emulator.base + "/upload/image", files={"image": ("c.png", png(), "image/png")}).json()["name"]
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": name}},
              "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
              "3": {"class_type": "SlowProgress", "inputs": {"image": ["2", 0], "steps": 2, "delay_ms": 0}},
              "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "c"}},
              "5": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}

    def run(p):
        pid = submit(emulator, p, client_id="cache").json()["prompt_id"]
        frames = collect_until(ws, is_done(pid))
        cached = next(f for f in frames if f.get("type") == "execution_cached")["data"]["nodes"]
        executing = [f["data"]["node"] for f in frames if f.get("type") == "executing" and f["data"]["node"]]
        executed = {f["data"]["node"]: f["data"]["output"] for f in frames if f.get("type") == "executed"}
        return cached, executing, executed, wait_history(emulator, pid)

    c1, e1, x1, h1 = run(prompt)
    assert c1 == [] and sorted(e1) == ["1", "2", "3", "4", "5"]
    files = sorted(p.name for p in (emulator.root / "output").iterdir())

    c2, e2, x2, h2 = run(prompt)
    assert c2 == ["1", "2", "3", "4", "5"] and e2 == [] and x2 == x1
    assert h2["outputs"] == h1["outputs"]
    assert sorted(p.name for p in (emulator.root / "output").iterdir()) == files   # nothing written

    renumbered = {str(int(k) + 10): {**v, "inputs": {ik: ([str(int(iv[0]) + 10), iv[1]] if isinstance(iv, list) else iv)
                                                    for ik, iv in v["inputs"].items()}} for k, v in prompt.items()}
    c3, e3, x3, _ = run(renumbered)
    assert c3 == ["11", "12", "13", "14", "15"] and e3 == []

    changed = {**prompt, "3": {**prompt["3"], "inputs": {**prompt["3"]["inputs"], "steps": 3}}}
    c4, e4, x4, _ = run(changed)
    assert c4 == ["1", "2", "5"] and e4 == ["3", "4"]
    assert x4["4"]["images"][0]["filename"] == "c_00002_.png" and x4["5"] == x1["5"]

    httpx.post(emulator.base + "/free", json={"free_memory": True})
    c5, e5, _, _ = run(changed)
    assert c5 == [] and sorted(e5) == ["1", "2", "3", "4", "5"]

    # overwriting the upload changes LoadImage's IS_CHANGED hash: everything downstream re-runs
    httpx.post(emulator.base + "/upload/image", files={"image": (name, png((200, 0, 0)), "image/png")},
               data={"overwrite": "true"})
    c6, e6, _, _ = run(changed)
    assert c6 == [] and sorted(e6) == ["1", "2", "3", "4", "5"]
    ws.close()


def test_save_image_counter_resumes_from_disk(emulator):
    out = emulator.root / "output" / "sub"
    out.mkdir()
    (out / "pre_00007_.png").write_bytes(png())
    prompt = {"1": EMPTY_SAVE["1"], "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0],
                                                                                "filename_prefix": "sub/pre"}}}
    entry = wait_history(emulator, submit(emulator, prompt).json()["prompt_id"])
    assert entry["outputs"]["2"]["images"] == [{"filename": "pre_00008_.png", "subfolder": "sub", "type": "output"}]
    from PIL import Image
    img = Image.open(out / "pre_00008_.png")
    assert img.format == "PNG" and "prompt" in img.text
    preview = {"1": EMPTY_SAVE["1"], "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    entry = wait_history(emulator, submit(emulator, preview).json()["prompt_id"])
    item = entry["outputs"]["2"]["images"][0]
    assert item["type"] == "temp" and item["subfolder"] == ""
    assert item["filename"].startswith("ComfyUI_temp_") and item["filename"].endswith("_00001_.png")
    assert httpx.get(emulator.base + "/view", params={"filename": item["filename"], "type": "temp"}).status_code == 200
    escape = {"1": EMPTY_SAVE["1"], "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0],
                                                                               "filename_prefix": "../evil"}}}
    entry = wait_history(emulator, submit(emulator, escape).json()["prompt_id"])
    assert entry["status"]["messages"][-1][0] == "execution_error"
