"""Helpers for test_faults.py: many raw loopback connections driven by one selector (idle
keep-alive clients, slow-loris clients), a TCP server that accepts and never answers, latency
percentiles, a raw HTTP/1.1 exchange that reports how the response ended, and directory listings
that include hidden files."""
import errno
import math
import os
import resource
import selectors
import socket
import struct
import threading
import time

import httpx


# --------------------------------------------------------------------------------------------
# limits, numbers, files

def raise_nofile(needed: int) -> int:
    """Raises this process's soft RLIMIT_NOFILE to at least `needed` (up to the hard limit);
    returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed if hard == resource.RLIM_INFINITY else min(max(needed, soft), hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def tree(root) -> dict:
    """Every file, directory and link under root (hidden ones included), relative path -> size
    (directories: -1)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = -1
        for f in filenames:
            p = os.path.join(dirpath, f)
            try:
                out[os.path.relpath(p, root)] = os.lstat(p).st_size
            except FileNotFoundError:
                pass
    return out


def files_only(listing: dict) -> dict:
    return {k: v for k, v in listing.items() if v >= 0}


def timed_requests(base_url, paths, count, pause=0.0, timeout=10.0):
    """`count` GETs cycling through `paths` on one keep-alive client; returns
    (latencies in ms, list of (path, status) that were not 200)."""
    latencies, bad = [], []
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        client.get(paths[0])  # connect outside the measurement
        for i in range(count):
            path = paths[i % len(paths)]
            started = time.perf_counter()
            r = client.get(path)
            latencies.append((time.perf_counter() - started) * 1000)
            if r.status_code != 200:
                bad.append((path, r.status_code, r.text[:200]))
            if pause:
                time.sleep(pause)
    return latencies, bad


# --------------------------------------------------------------------------------------------
# a raw HTTP/1.1 exchange

def parse_head(raw: bytes):
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


def raw_exchange(port, request: bytes, timeout=15.0):
    """Sends request on a fresh connection and reads until the server ends the connection, the
    announced body is complete, or `timeout`. Returns dict(status, headers, body, ended) where
    ended is 'complete' (whole announced body, connection still open), 'eof', 'reset' or
    'timeout'."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(request)
        data = b""
        ended = None
        deadline = time.monotonic() + timeout
        status = headers = None
        body = b""
        while True:
            if status is not None and "content-length" in headers and len(body) >= int(headers["content-length"]):
                ended = "complete"
                break
            left = deadline - time.monotonic()
            if left <= 0:
                ended = "timeout"
                break
            sock.settimeout(left)
            try:
                chunk = sock.recv(1 << 16)
            except socket.timeout:
                ended = "timeout"
                break
            except ConnectionResetError:
                ended = "reset"
                break
            if not chunk:
                ended = "eof"
                break
            data += chunk
            if status is None and b"\r\n\r\n" in data:
                status, headers, body = parse_head(data)
            elif status is not None:
                body += chunk
        if status is None and b"\r\n\r\n" in data:
            status, headers, body = parse_head(data)
        return {"status": status, "headers": headers or {}, "body": body, "ended": ended, "raw": data}
    finally:
        sock.close()


# --------------------------------------------------------------------------------------------
# a ComfyUI that accepts and never answers

class BlackHoleServer:
    """Listens on a free loopback port, accepts every connection and never reads or writes."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.listener.close()
        for conn in self.accepted:
            conn.close()


# --------------------------------------------------------------------------------------------
# many connections

class _Conn:
    __slots__ = ("sock", "phase", "buf", "opened", "closed", "data", "next_drip", "status", "error")

    def __init__(self, sock):
        self.sock = sock
        self.phase = "connect"
        self.buf = b""
        self.opened = None
        self.closed = None
        self.data = b""
        self.next_drip = None
        self.status = None
        self.error = None


def _response_complete(buf: bytes):
    """(status, complete) of a buffered response with a Content-Length (or none: complete head)."""
    if b"\r\n\r\n" not in buf:
        return None, False
    status, headers, body = parse_head(buf)
    length = int(headers.get("content-length", "0"))
    return status, len(body) >= length


def open_keepalive_connections(port, n, request: bytes, inflight=256, timeout=90.0):
    """Opens n connections to 127.0.0.1:port, sends `request` on each and reads its response,
    keeping every connection open afterwards. At most `inflight` connections are between
    connect and complete response at once (the listener's backlog is finite). Returns
    (list of _Conn: .sock, .status (None on failure), .error)."""
    sel = selectors.DefaultSelector()
    conns = []
    started = done = busy = 0
    deadline = time.monotonic() + timeout
    try:
        while done < n:
            while started < n and busy < inflight:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                c = _Conn(s)
                conns.append(c)
                started += 1
                err = s.connect_ex(("127.0.0.1", port))
                if err not in (0, errno.EINPROGRESS):
                    c.error = f"connect: {errno.errorcode.get(err, err)}"
                    done += 1
                    continue
                sel.register(s, selectors.EVENT_WRITE, c)
                busy += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"only {done} of {n} connections answered within {timeout}s")
            for key, _ in sel.select(timeout=0.5):
                c = key.data
                s = c.sock
                finished = False
                if c.phase == "connect":
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        c.error = f"connect: {errno.errorcode.get(err, err)}"
                        finished = True
                    else:
                        try:
                            s.send(request)
                            c.phase = "read"
                            sel.modify(s, selectors.EVENT_READ, c)
                        except OSError as e:
                            c.error = f"send: {e}"
                            finished = True
                else:
                    try:
                        chunk = s.recv(1 << 16)
                    except OSError as e:
                        chunk, c.error = None, f"recv: {e}"
                    if chunk:
                        c.buf += chunk
                        status, complete = _response_complete(c.buf)
                        if complete:
                            c.status = status
                            finished = True
                    else:
                        c.error = c.error or f"closed before a complete response ({c.buf[:120]!r})"
                        finished = True
                if finished:
                    sel.unregister(s)
                    busy -= 1
                    done += 1
    finally:
        sel.close()
    return conns


def count_closed(socks, seconds):
    """Watches socks for `seconds`; returns the set of indices that became readable (EOF, reset
    or unexpected bytes) meanwhile. Returns early once all are."""
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    closed = set()
    deadline = time.monotonic() + seconds
    try:
        while len(closed) < len(socks):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(timeout=min(left, 0.5)):
                closed.add(key.data)
                sel.unregister(key.fileobj)
    finally:
        sel.close()
    return closed


def close_all(socks, rst=False):
    for s in socks:
        try:
            if rst:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        except OSError:
            pass


class SlowLoris(threading.Thread):
    """n connections that each send the start of a request head, then one more byte every
    `drip_every` seconds, and never finish it. Records per connection when it opened, when the
    server answered or closed it, and what it sent."""

    HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-Loris: "

    def __init__(self, port, n, drip_every=2.0, inflight=256, deadline=60.0):
        super().__init__(daemon=True)
        self.port = port
        self.n = n
        self.drip_every = drip_every
        self.inflight = inflight
        self.deadline = deadline
        self.conns = []
        self.all_open = threading.Event()
        self.finished = threading.Event()
        self.stop_flag = threading.Event()
        self.failure = None

    def run(self):
        try:
            self._run()
        except BaseException as e:  # reported by the test
            self.failure = repr(e)
        finally:
            for c in self.conns:
                close_all([c.sock])
            self.all_open.set()
            self.finished.set()

    def _run(self):
        sel = selectors.DefaultSelector()
        started = connecting = 0
        end = time.monotonic() + self.deadline
        open_count = closed_count = 0
        last_sweep = 0.0
        while closed_count < self.n and not self.stop_flag.is_set() and time.monotonic() < end:
            while started < self.n and connecting < self.inflight:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                c = _Conn(s)
                self.conns.append(c)
                started += 1
                err = s.connect_ex(("127.0.0.1", self.port))
                if err not in (0, errno.EINPROGRESS):
                    c.error = f"connect: {errno.errorcode.get(err, err)}"
                    c.closed = time.monotonic()
                    closed_count += 1
                    continue
                sel.register(s, selectors.EVENT_WRITE, c)
                connecting += 1
            for key, _ in sel.select(timeout=0.05):
                c = key.data
                s = c.sock
                now = time.monotonic()
                if c.phase == "connect":
                    connecting -= 1
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        c.error = f"connect: {errno.errorcode.get(err, err)}"
                        c.closed = now
                        closed_count += 1
                        sel.unregister(s)
                        continue
                    s.send(self.HEAD)
                    c.opened = now
                    c.next_drip = now + self.drip_every * (0.5 + (len(self.conns) % 100) / 200)
                    c.phase = "open"
                    open_count += 1
                    if open_count == self.n:
                        self.all_open.set()
                    sel.modify(s, selectors.EVENT_READ, c)
                    continue
                try:
                    chunk = s.recv(1 << 16)
                except OSError as e:
                    chunk, c.error = b"", f"recv: {e.__class__.__name__}"
                if chunk:
                    c.data += chunk
                    if c.closed is None:
                        c.closed = now  # the server answered (408): the request is over
                    continue
                if c.closed is None:
                    c.closed = now
                c.phase = "done"
                closed_count += 1
                sel.unregister(s)
                s.close()
            now = time.monotonic()
            if now - last_sweep >= 0.1:
                last_sweep = now
                for c in self.conns:
                    if c.phase == "open" and c.closed is None and now >= c.next_drip:
                        c.next_drip = now + self.drip_every
                        try:
                            c.sock.send(b"a")
                        except OSError as e:
                            c.error = f"send: {e.__class__.__name__}"
        sel.close()
