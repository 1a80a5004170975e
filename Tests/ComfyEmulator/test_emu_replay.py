"""Replay every recorded ComfyUI trace (traces/*.jsonl, recorded from a real ComfyUI 0.3.64 and
kept in this folder; see docs/comfyui.md, "The recorded traces") against the emulator.

All traces run in file-name order against ONE emulator with a fresh root, because they were
recorded that way on one ComfyUI process: priority numbers continue (a=0 ... l=29), the cache
carries over (i_previews_metadata starts with LoadImage/ImageInvert cached), trace h reads the
history, outputs and uploads left by a-g. Asking for one trace replays the earlier ones first.

What is compared, per trace:
* HTTP: every recorded request is sent (prompt ids mapped, uploads rebuilt from their labels,
  SlowProgress delays scaled); status code, content type (including "none" for empty bodies),
  Content-Disposition, and the JSON body after normalisation (ids mapped; timestamps,
  tracebacks, current_inputs values and PreviewImage's random temp letters masked;
  outputs_to_execute sorted) must be EQUAL - including priority numbers, node_errors,
  filenames and upload names. /system_stats is compared by shape; binary bodies by magic bytes.
* WebSocket, per connection: the first frame exactly (status + sid); the sequence of all
  non-status frames (types, binary event types and normalised contents) exactly; and the
  "coarse" sequence (status frames with their queue_remaining, lifecycle messages and
  executing{node:null}) exactly.

Relaxations (each one is timing-dependent in the recording itself):
* status frames vs node-level frames: a ``status`` broadcast caused by an HTTP request
  (POST /prompt, POST /queue) can land anywhere among the progress/executing frames of a
  prompt that is already running (trace g: recorded between executing(1) and progress_state).
  So status frames are checked only in the coarse sequence, where they must keep their order
  relative to execution_start/cached/success/error/interrupted and executing(null).
* trace k, second connection: how many (progress_state, progress) pairs are lost while the
  socket is closed depends on reconnect timing. The run of SlowProgress progress pairs is
  collapsed to one token in both sequences; the emulator's run must still alternate
  progress_state/progress with consecutive values ending at max.
* trace l: ComfyUI picks outputs_to_execute from a Python set (hash-randomised order), and the
  node execution order follows from it; the emulator uses prompt order. So for l the frames
  are compared per node (each node's own progress_state/executing/text/executed subsequence,
  progress_state reduced to the node it reports on), the emulator's order must be a valid
  topological order with every executing preceded by that node's progress_state(running),
  and the coarse sequence must match exactly.
"""
import asyncio
import os
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import EmulatorProcess
from trace_replay import (Replayer, comparable_frame, is_coarse, load_trace, normalize,
                          shape)


def find_traces_dir():
    here = Path(__file__).resolve().parent
    for c in (os.environ.get("COMFY_TRACES_DIR"), here / "traces"):
        if c and Path(c, "a_empty_save.jsonl").exists():
            return Path(c)
    return None


TRACES_DIR = find_traces_dir()
TRACE_NAMES = sorted(p.stem for p in TRACES_DIR.glob("*.jsonl")) if TRACES_DIR else []


class ReplaySession:
    def __init__(self, emu):
        self.emu = emu
        self.pid_map = {}
        self.results = {}

    def get(self, name):
        for n in TRACE_NAMES:
            if n not in self.results:
                replayer = Replayer(self.emu.base, self.emu.ws_base, self.pid_map)
                try:
                    self.results[n] = asyncio.run(replayer.run(n, load_trace(TRACES_DIR / f"{n}.jsonl")))
                except Exception as ex:  # keep later traces runnable
                    self.results[n] = ex
            if n == name:
                break
        result = self.results[name]
        if isinstance(result, Exception):
            raise result
        return result


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    if TRACES_DIR is None:
        pytest.fail("the recorded traces (Tests/ComfyEmulator/traces) are missing")
    emu = EmulatorProcess(tmp_path_factory.mktemp("replay") / "root", version="0.3.64")
    yield ReplaySession(emu)
    emu.stop()


# -- HTTP ----------------------------------------------------------------------------------

def check_http(run, pid_map, problems):
    for ev, act in run.http:
        where = f"HTTP seq {ev['seq']} {ev['method']} {ev['path']} ({ev.get('label', '')})"
        if act["status"] != ev["status"]:
            problems.append(f"{where}: status {act['status']} != recorded {ev['status']}")
            continue
        rec_ct, act_ct = ev.get("content_type"), act["content_type"]
        if (rec_ct is None) != (act_ct is None) or (rec_ct and rec_ct.split(";")[0] != act_ct.split(";")[0]):
            problems.append(f"{where}: content type {act_ct!r} != recorded {rec_ct!r}")
        rec_cd = (ev.get("headers") or {}).get("Content-Disposition")
        if rec_cd and act["headers"].get("Content-Disposition") != rec_cd:
            problems.append(f"{where}: Content-Disposition {act['headers'].get('Content-Disposition')!r} != {rec_cd!r}")
        if rec_ct is None and act["raw"]:
            problems.append(f"{where}: expected an empty body, got {act['raw'][:60]!r}")
        if "body" in ev and ev["body"] is not None:
            if ev["path"].split("?")[0].endswith("/system_stats"):
                if shape(ev["body"]) != shape(act.get("body")):
                    problems.append(f"{where}: shape {shape(act.get('body'))} != {shape(ev['body'])}")
                elif act["body"]["system"]["comfyui_version"] != ev["body"]["system"]["comfyui_version"]:
                    problems.append(f"{where}: comfyui_version differs")
                continue
            want = normalize(ev["body"], pid_map, recorded=True)
            got = normalize(act.get("body"))
            if want != got:
                problems.append(f"{where}: body differs\n  recorded: {str(want)[:1500]}\n  emulator: {str(got)[:1500]}")
        elif ev.get("body_head_hex"):
            magic = bytes.fromhex(ev["body_head_hex"][:8])
            if not act["raw"].startswith(magic):
                problems.append(f"{where}: body starts {act['raw'][:8].hex()} not {magic.hex()}")


# -- WebSocket -----------------------------------------------------------------------------

def collapse_progress_runs(seq, problems=None, where=""):
    """Trace k: replace each run of (progress_state running, progress) frames by one token."""
    out = []
    run = []

    def flush():
        if not run:
            return
        if problems is not None:
            kinds = [f["type"] for f in run]
            values = [f["data"]["value"] for f in run if f["type"] == "progress"]
            if kinds != ["progress_state", "progress"] * (len(kinds) // 2) or len(kinds) % 2:
                problems.append(f"{where}: malformed progress run {kinds}")
            elif values != list(range(values[0], values[0] + len(values))) or values[-1] != run[-1]["data"]["max"]:
                problems.append(f"{where}: progress values {values} not consecutive up to max")
        out.append({"type": "<progress run>"})
        run.clear()

    for f in seq:
        t = f.get("type")
        in_run = t == "progress" or (t == "progress_state" and any(
            n["state"] == "running" and isinstance(n["value"], int) and n["value"] > 0
            for n in f["data"]["nodes"].values()))
        if in_run and "binary" not in f:
            run.append(f)
        else:
            flush()
            out.append(f)
    flush()
    return out


def per_node_view(seq):
    """Trace l: each node's own frames, progress_state reduced to the node it reports on."""
    nodes = defaultdict(list)
    for f in seq:
        if "binary" in f:
            nodes[f.get("node_id")].append(f)
            continue
        t, d = f.get("type"), f.get("data") or {}
        if t == "progress_state":
            last = list(d["nodes"])[-1]
            nodes[last].append({"PS": last, "state": d["nodes"][last]["state"]})
        elif t in ("executing", "executed", "progress") and d.get("node") is not None:
            nodes[d["node"]].append(f)
    return dict(nodes)


def check_l_order(seq, prompt, problems, where):
    order = [f["data"]["node"] for f in seq if f.get("type") == "executing" and f["data"].get("node")]
    pos = {n: i for i, n in enumerate(order)}
    for n in order:
        for v in prompt[n]["inputs"].values():
            if isinstance(v, list) and len(v) == 2 and v[0] in pos and pos[v[0]] > pos[n]:
                problems.append(f"{where}: node {n} executed before its input {v[0]}")
    for i, f in enumerate(seq):
        if f.get("type") == "executing" and f["data"].get("node"):
            prev = seq[i - 1] if i else {}
            n = f["data"]["node"]
            if prev.get("type") != "progress_state" or list(prev["data"]["nodes"])[-1] != n:
                problems.append(f"{where}: executing({n}) not preceded by its progress_state")


def check_sockets(run, pid_map, problems, trace_events):
    keys = list(dict.fromkeys(list(run.recorded) + list(run.connections)))
    for key in keys:
        where = f"socket {key[0]}#{key[1]}"
        anonymous = "clientId=" not in run.conn_urls.get(key, "")
        rec = [comparable_frame(f, pid_map, True, anonymous) for f in run.recorded.get(key, [])]
        conn = run.connections.get(key)
        act = [comparable_frame(f, pid_map, False, anonymous) for _, f in (conn.frames if conn else [])]
        if anonymous and conn and conn.frames:
            sid = conn.frames[0][1]["msg"]["data"].get("sid", "")
            if len(sid) != 32 or any(c not in "0123456789abcdef" for c in sid):
                problems.append(f"{where}: anonymous sid {sid!r} is not uuid4().hex")
        if not act or not rec or act[0] != rec[0]:
            problems.append(f"{where}: first frame {act[:1]} != recorded {rec[:1]}")
            continue
        rec_ns = [f for f in rec if not (f.get("type") == "status")]
        act_ns = [f for f in act if not (f.get("type") == "status")]
        if run.name.startswith("k_") and key[1] == 2:
            rec_ns = collapse_progress_runs(rec_ns)
            act_ns = collapse_progress_runs(act_ns, problems, where)
        if run.name.startswith("l_"):
            prompt = next(ev["request"]["prompt"] for ev in trace_events
                          if ev.get("src") == "http" and ev["path"] == "/prompt" and ev["method"] == "POST")
            if per_node_view(rec_ns) != per_node_view(act_ns):
                rv, av = per_node_view(rec_ns), per_node_view(act_ns)
                diff = {n: (rv.get(n), av.get(n)) for n in set(rv) | set(av) if rv.get(n) != av.get(n)}
                problems.append(f"{where}: per-node frames differ: {str(diff)[:2000]}")
            if len(rec_ns) != len(act_ns):
                problems.append(f"{where}: {len(act_ns)} non-status frames, recorded {len(rec_ns)}")
            check_l_order(act_ns, prompt, problems, where)
        elif rec_ns != act_ns:
            problems.append(f"{where}: non-status frames differ\n" + diff_text(rec_ns, act_ns))
        rec_c = [f for f in rec if is_coarse(f)]
        act_c = [f for f in act if is_coarse(f)]
        if rec_c != act_c:
            problems.append(f"{where}: status/lifecycle order differs\n" + diff_text(rec_c, act_c))


def brief(f):
    if "binary" in f:
        return f"BIN{f['binary']}"
    d = f.get("data") or {}
    extra = d.get("node") if "node" in d else d.get("status", {}).get("exec_info", {}).get("queue_remaining", "")
    if f.get("type") == "progress":
        extra = f"{d.get('node')}:{d.get('value')}/{d.get('max')}"
    return f"{f.get('type')}({extra})"


def diff_text(rec, act):
    for i, (a, b) in enumerate(zip(rec, act)):
        if a != b:
            return (f"  first difference at #{i}:\n  recorded: {a}\n  emulator: {b}\n"
                    f"  recorded: {[brief(f) for f in rec[max(0, i - 3):i + 6]]}\n"
                    f"  emulator: {[brief(f) for f in act[max(0, i - 3):i + 6]]}")
    return (f"  lengths {len(rec)} (recorded) vs {len(act)} (emulator)\n"
            f"  recorded tail: {[brief(f) for f in rec[len(act) - 3:]]}\n"
            f"  emulator tail: {[brief(f) for f in act[len(rec) - 3:]]}")


@pytest.mark.parametrize("name", TRACE_NAMES)
def test_replay_trace(replay, name):
    run = replay.get(name)
    events = load_trace(TRACES_DIR / f"{name}.jsonl")
    problems = []
    if run.barrier_timeouts:
        problems.append(f"barrier timeouts (expected frames never arrived): {run.barrier_timeouts}")
    check_http(run, replay.pid_map, problems)
    check_sockets(run, replay.pid_map, problems, events)
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_all_traces_found():
    """Guard: the replay must cover every trace file (13 recorded scenarios)."""
    if TRACES_DIR is None:
        pytest.fail("the recorded traces (Tests/ComfyEmulator/traces) are missing")
    assert len(TRACE_NAMES) >= 13, TRACE_NAMES
