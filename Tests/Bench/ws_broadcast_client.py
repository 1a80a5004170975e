"""Load client for the WebSocket broadcast benchmark (stdlib only).

Opens --clients connections to ws://127.0.0.1:PORT/broadcast, records the server's RSS per idle
connection, asks the server to broadcast --count text messages of --size bytes to everyone, and
measures messages delivered per second, delivery latency (each payload starts with its send time
in CLOCK_MONOTONIC nanoseconds), the server's CPU time, and this client's own CPU time.
"""
import argparse
import asyncio
import base64
import os
import resource
import struct
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    def __init__(self, count):
        self.count = count
        self.received = 0
        self.latencies = []
        self.done = asyncio.Event()

    async def connect(self, port, path):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head[:60])

    def send_text(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked)

    async def read(self):
        buffer = b""
        while self.received < self.count:
            chunk = await self.reader.read(262144)
            if not chunk:
                break
            now = time.monotonic_ns()
            buffer += chunk
            index = 0
            end = len(buffer)
            while end - index >= 2:
                length = buffer[index + 1] & 0x7F
                offset = 2
                if length == 126:
                    if end - index < 4:
                        break
                    length = (buffer[index + 2] << 8) | buffer[index + 3]
                    offset = 4
                elif length == 127:
                    if end - index < 10:
                        break
                    length = struct.unpack_from("!Q", buffer, index + 2)[0]
                    offset = 10
                if end - index < offset + length:
                    break
                if buffer[index] & 0x0F == 0x1:
                    self.received += 1
                    if self.received % 10 == 1:
                        self.latencies.append(now - int(buffer[index + offset:index + offset + 20]))
                index += offset + length
            buffer = buffer[index:]
        self.done.set()


async def main(args):
    rss_before = rss_kib(args.pid)
    clients = [Client(args.count) for _ in range(args.clients)]
    for start in range(0, len(clients), 200):
        await asyncio.gather(*(c.connect(args.port, args.path) for c in clients[start:start + 200]))
    await asyncio.sleep(1)
    rss_idle = rss_kib(args.pid)
    readers = [asyncio.create_task(c.read()) for c in clients]
    cpu_server, usage = cpu_seconds(args.pid), resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    clients[0].send_text(f"start {args.count} {args.size}")
    try:
        await asyncio.wait_for(asyncio.gather(*readers), timeout=args.timeout)
    except asyncio.TimeoutError:
        pass
    elapsed = time.monotonic() - started
    cpu_server = cpu_seconds(args.pid) - cpu_server
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_client = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    delivered = sum(c.received for c in clients)
    latencies = sorted(l for c in clients for l in c.latencies)
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] / 1e6 if latencies else float("nan")
    print(f"delivered {delivered}/{args.clients * args.count} in {elapsed:.3f}s: {delivered / elapsed:.0f} msg/s, "
          f"latency p50 {p(0.5):.1f} ms p99 {p(0.99):.1f} ms, server CPU {cpu_server:.2f}s "
          f"({100 * cpu_server / elapsed:.0f}%), client CPU {cpu_client:.2f}s ({100 * cpu_client / elapsed:.0f}%), "
          f"RSS per idle connection {(rss_idle - rss_before) * 1024 / args.clients / 1024:.1f} KiB")
    for c in clients:
        c.writer.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--path", default="/broadcast")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=60)
    import resource as r
    soft, hard = r.getrlimit(r.RLIMIT_NOFILE)
    r.setrlimit(r.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(parser.parse_args()))
