"""The gateway's HTTP/1.1 behaviour seen by independent clients: httpx, and h11 (a strict
RFC 9112 parser that rejects malformed responses), over real sockets."""
import json
import socket

import h11
import httpx


def h11_exchange(port, requests):
    """Sends requests pipelined in one write and parses the responses with h11."""
    data = b"".join(f"{method} {target} HTTP/1.1\r\nHost: gw\r\n\r\n".encode() for method, target in requests)
    reader = h11.Connection(our_role=h11.CLIENT)
    responses = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        for method, target in requests:
            reader.send(h11.Request(method=method, target=target, headers=[("Host", "gw")]))
            reader.send(h11.EndOfMessage())
            response, body = None, b""
            while True:
                event = reader.next_event()
                if event is h11.NEED_DATA:
                    reader.receive_data(sock.recv(65536))
                elif isinstance(event, h11.Response):
                    response = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
            responses.append((response, body))
            reader.start_next_cycle()
    return responses


def header(response, name):
    for key, value in response.headers:
        if key.decode().lower() == name.lower():
            return value.decode()
    return None


def test_health_with_httpx(gateway):
    with httpx.Client(base_url=gateway.url) as client:
        first = client.get("/health")
        second = client.get("/health", headers={"X-Request-Id": "black-box-1"})
    assert first.status_code == 200
    assert first.json() == {"status": "ok"}
    assert first.headers["content-type"] == "application/json; charset=utf-8"
    assert len(first.headers["x-request-id"]) == 32
    assert second.headers["x-request-id"] == "black-box-1"


def test_error_shape_with_httpx(gateway):
    with httpx.Client(base_url=gateway.url) as client:
        missing = client.get("/api/v1/nothing")
        wrong = client.post("/health", json={})
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["code"] == "NOT_FOUND"
    assert error["request_id"] == missing.headers["x-request-id"]
    assert isinstance(error["message"], str) and isinstance(error["details"], dict)
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD"
    assert wrong.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_pipelined_responses_parse_strictly_and_in_order(gateway):
    responses = h11_exchange(gateway.port, [("GET", "/health"), ("HEAD", "/health"), ("GET", "/x")])
    assert [r.status_code for r, _ in responses] == [200, 200, 404]
    assert json.loads(responses[0][1]) == {"status": "ok"}
    assert responses[1][1] == b""
    assert header(responses[1][0], "content-length") == "15"
    assert json.loads(responses[2][1])["error"]["code"] == "NOT_FOUND"


def test_http10_connection_closes(gateway):
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"connection: close" in head.lower()
    assert json.loads(body) == {"status": "ok"}


def raw_status(port, payload):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    conn = h11.Connection(our_role=h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "gw")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    response = conn.next_event()
    body = b""
    while isinstance(event := conn.next_event(), h11.Data):
        body += event.data
    return response.status_code, header(response, "connection"), json.loads(body) if body else None


def test_rejections_answer_in_the_error_shape_and_close(gateway):
    cases = [
        (b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\nHost: a\r\n\r\n", 400),
        (b"POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431),
        (b"POST /health HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br, chunked\r\n\r\n", 501),
        (b"GET /health HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ]
    for payload, expected in cases:
        status, connection, body = raw_status(gateway.port, payload)
        assert status == expected, payload[:60]
        assert connection == "close"
        assert body["error"]["code"] in ("INVALID_REQUEST", "PAYLOAD_TOO_LARGE")
        assert body["error"]["request_id"]


def test_expect_continue_comes_before_the_final_response(gateway):
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(b"POST /health HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"{}")
        while b"METHOD_NOT_ALLOWED" not in data:
            chunk = sock.recv(65536)
            assert chunk, "connection closed before the final response"
            data += chunk
    assert b"HTTP/1.1 405 Method Not Allowed" in data
