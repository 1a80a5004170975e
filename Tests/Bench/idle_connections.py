#!/usr/bin/env python3
"""Measure how much resident memory N idle keep-alive connections cost a server.

    idle_connections.py --port P --count N --pid PID

Opens N TCP connections to 127.0.0.1:P (in batches), sends one
``GET /health`` on each and reads the full response, keeps every connection
open, waits for things to settle, and compares the VmRSS of PID before and
after. Prints one line on stdout:

    idle_connections N rss_before_kib X rss_after_kib Y delta_mib Z

then closes all connections. Standard library only (Python 3.11+).

Exit status: 0 ok; 1 error (connect/response failure, timeout, bad PID ...);
3 measured, but the server closed some connections while they were idle (the
result line is still printed, with a warning on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import sys
import time

REQUEST = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(f"idle_connections: {msg}", file=sys.stderr, flush=True)


def read_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])  # "VmRSS:    1234 kB"
    except FileNotFoundError:
        raise BenchError(f"process {pid} does not exist (server died?)") from None
    raise BenchError(f"no VmRSS in /proc/{pid}/status")


def raise_nofile(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard == resource.RLIM_INFINITY or hard >= needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        return
    try:  # raising the hard limit needs CAP_SYS_RESOURCE
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
    except (ValueError, OSError):
        raise BenchError(
            f"RLIMIT_NOFILE hard limit is {hard} but {needed} are needed; raise it first"
        ) from None


async def read_response(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ", 2)
    if len(status) < 2 or not status[0].startswith("HTTP/1."):
        raise BenchError(f"bad status line {lines[0]!r}")
    if status[1] != "200":
        raise BenchError(f"GET /health answered {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "close" in headers.get("connection", "").lower():
        raise BenchError("server answered with 'Connection: close'; keep-alive required")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return
            await reader.readexactly(size + 2)
    elif "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    else:
        raise BenchError("response has neither Content-Length nor chunked encoding")


async def open_one(host: str, port: int, timeout: float):
    async def go():
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(REQUEST)
            await writer.drain()
            await read_response(reader)
        except BaseException:
            writer.transport.abort()
            raise
        return reader, writer

    return await asyncio.wait_for(go(), timeout)


async def close_all(conns) -> None:
    for _, writer in conns:
        writer.close()
    if conns:
        try:
            await asyncio.wait_for(
                asyncio.gather(*(w.wait_closed() for _, w in conns), return_exceptions=True), 5
            )
        except asyncio.TimeoutError:
            for _, writer in conns:
                writer.transport.abort()


async def run(args, conns: list) -> int:
    rss_before = read_rss_kib(args.pid)
    started = time.monotonic()
    remaining = args.count
    while remaining > 0:
        n = min(args.batch, remaining)
        results = await asyncio.gather(
            *(open_one(args.host, args.port, args.connect_timeout) for _ in range(n)),
            return_exceptions=True,
        )
        errors = []
        for r in results:
            if isinstance(r, BaseException):
                errors.append(r)
            else:
                conns.append(r)
        if errors:
            first = errors[0]
            raise BenchError(
                f"{len(errors)} of {n} connections in a batch failed after {len(conns)} were open; "
                f"first error: {type(first).__name__}: {first}"
            )
        remaining -= n
        read_rss_kib(args.pid)  # fail fast if the server died
    open_secs = time.monotonic() - started

    await asyncio.sleep(args.settle)
    rss_after = read_rss_kib(args.pid)

    closed = sum(1 for r, _ in conns if r.at_eof() or r.exception() is not None)
    delta_mib = (rss_after - rss_before) / 1024.0
    print(
        f"idle_connections {args.count} rss_before_kib {rss_before} "
        f"rss_after_kib {rss_after} delta_mib {delta_mib:.2f}",
        flush=True,
    )
    log(f"opened {args.count} connections in {open_secs:.2f}s, "
        f"{(rss_after - rss_before) * 1024 / args.count:.0f} bytes/connection")
    if closed:
        log(f"WARNING: server closed {closed} of {args.count} connections while idle")
        return 3
    return 0


async def main_async(args) -> int:
    conns: list = []
    try:
        return await asyncio.wait_for(run(args, conns), args.timeout)
    except asyncio.TimeoutError:
        log(f"ERROR: timed out after {args.timeout:.0f}s with {len(conns)} of {args.count} connections open")
        return 1
    except (BenchError, OSError) as e:
        log(f"ERROR: {e}")
        return 1
    finally:
        await close_all(conns)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, required=True, help="number of idle connections")
    p.add_argument("--pid", type=int, required=True, help="server process whose VmRSS is measured")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--batch", type=int, default=500, help="connections opened concurrently")
    p.add_argument("--settle", type=float, default=1.0, help="seconds to wait before the final RSS")
    p.add_argument("--timeout", type=float, default=60.0, help="overall time limit in seconds")
    p.add_argument("--connect-timeout", type=float, default=10.0)
    args = p.parse_args()
    if args.count < 1 or args.batch < 1:
        p.error("--count and --batch must be >= 1")

    # Hard backstop in case something wedges outside the event loop's control.
    def on_alarm(signum, frame):
        log(f"ERROR: hard time limit ({args.timeout + 15:.0f}s) exceeded")
        os._exit(1)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.timeout) + 15)

    try:
        read_rss_kib(args.pid)
        raise_nofile(args.count + 64)
    except (BenchError, OSError) as e:
        log(f"ERROR: {e}")
        return 1
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
