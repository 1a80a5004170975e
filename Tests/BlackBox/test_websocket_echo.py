"""The server side of our WebSocket checked by an independent, strict RFC 6455 implementation
(Python websockets) and by hand-made frames for the failure cases, over real sockets."""
import os
import socket
import struct

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from frames import frame


def url(server):
    return f"ws://127.0.0.1:{server.port}/echo"


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 1 << 20])
def test_text_and_binary_of_every_length_form(echo_server, size):
    with connect(url(echo_server), max_size=None) as ws:
        text = ("é" * size)[: size // 2] if size else ""
        ws.send(text)
        assert ws.recv() == text
        data = os.urandom(size)
        ws.send(data)
        assert ws.recv() == data


def test_fragmented_message_with_interleaved_ping(echo_server):
    with connect(url(echo_server)) as ws:
        def fragments():
            yield "frag"
            ws.ping(b"between").wait(5)
            yield "mented"
        ws.send(fragments())
        assert ws.recv() == "fragmented"


def test_ping_pong_round_trip(echo_server):
    with connect(url(echo_server)) as ws:
        assert ws.ping(b"payload").wait(5)
        ws.send("still open")
        assert ws.recv() == "still open"


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999])
def test_close_with_each_valid_code_is_echoed(echo_server, code):
    with connect(url(echo_server)) as ws:
        ws.close(code, "reason")
        received = ws.protocol.close_rcvd
        assert received is not None and received.code == code


def raw_upgrade(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    return sock, rest


def close_code_after(port, data):
    sock, rest = raw_upgrade(port)
    sock.sendall(data)
    received = rest
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    sock.close()
    # The last frame the server sent must be a close frame; return its code.
    index, code = 0, None
    while index + 2 <= len(received):
        opcode, length = received[index] & 0x0F, received[index + 1] & 0x7F
        offset = 2
        if length == 126:
            length, offset = struct.unpack("!H", received[index + 2:index + 4])[0], 4
        payload = received[index + offset:index + offset + length]
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        index += offset + length
    return code


@pytest.mark.parametrize("data,code", [
    (frame(0x1, b"\xed\xa0\x80"), 1007),
    (frame(0x1, b"ok", rsv=4), 1002),
    (frame(0x1, b"ok", mask=False), 1002),
    (frame(0x9, b"ping", fin=False), 1002),
    (frame(0x9, b"x" * 126), 1002),
    (frame(0x8, struct.pack("!H", 1005)), 1002),
    (frame(0x8, struct.pack("!H", 999)), 1002),
    (frame(0x0, b"orphan continuation"), 1002),
])
def test_protocol_errors_close_with_the_right_code(echo_server, data, code):
    assert close_code_after(echo_server.port, data) == code
