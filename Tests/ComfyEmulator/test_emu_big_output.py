"""The BigOutput test node: its whole UI text reaches the `executed` message and the history,
the seed defeats the cache, and `size` is bounded like any INT input (0 to 64 MiB)."""
import httpx

from emu_helpers import collect_until, drain, is_done, recv_frame, submit, wait_history, ws_connect

MIB = 1024 * 1024


def big_output(size, text=None):
    inputs = {"size": size}
    if text is not None:
        inputs["text"] = text
    return {"1": {"class_type": "BigOutput", "inputs": inputs}}


def test_big_output_of_1_mib_is_carried_whole_by_executed_and_history(emulator):
    ws = ws_connect(emulator, "big")
    recv_frame(ws)
    pid = submit(emulator, big_output(MIB, "ab"), client_id="big").json()["prompt_id"]
    frames = collect_until(ws, is_done(pid))
    executed = [f["data"] for f in frames if f.get("type") == "executed"]
    assert len(executed) == 1, [f.get("type") for f in frames]
    assert executed[0]["node"] == "1" and executed[0]["prompt_id"] == pid
    assert list(executed[0]["output"]) == ["text"] and len(executed[0]["output"]["text"]) == 1
    text = executed[0]["output"]["text"][0]
    assert len(text) == 1_048_576
    assert text == "ab" * (MIB // 2)
    entry = wait_history(emulator, pid)
    assert entry["outputs"]["1"] == {"text": [text]}
    assert entry["status"]["status_str"] == "success"

    # same inputs: served from the cache (the executed message still carries the text);
    # another seed runs again
    pid = submit(emulator, big_output(MIB, "ab"), client_id="big").json()["prompt_id"]
    frames = collect_until(ws, is_done(pid))
    assert next(f for f in frames if f.get("type") == "execution_cached")["data"]["nodes"] == ["1"]
    assert len(next(f for f in frames if f.get("type") == "executed")["data"]["output"]["text"][0]) == MIB
    pid = submit(emulator, big_output(5, "xyz"), client_id="big").json()["prompt_id"]
    frames = collect_until(ws, is_done(pid))
    assert next(f for f in frames if f.get("type") == "execution_cached")["data"]["nodes"] == []
    assert next(f for f in frames if f.get("type") == "executed")["data"]["output"] == {"text": ["xyzxy"]}
    drain(ws, 0.1)
    ws.close()


def test_big_output_size_bounds(emulator):
    info = httpx.get(emulator.base + "/object_info/BigOutput").json()["BigOutput"]
    assert info["output_node"] is True and info["category"] == "gateway_test"
    assert info["input"]["required"]["size"] == ["INT", {"default": 1024, "min": 0, "max": 64 * MIB}]
    r = submit(emulator, big_output(64 * MIB + 1))
    assert r.status_code == 400
    assert r.json()["node_errors"]["1"]["errors"][0]["type"] == "value_bigger_than_max"
    pid = submit(emulator, big_output(0)).json()["prompt_id"]
    assert wait_history(emulator, pid)["outputs"]["1"] == {"text": [""]}
