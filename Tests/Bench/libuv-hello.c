/* The raw C baseline of `make bench`: a libuv HTTP/1.1 server that answers every request on a
 * keep-alive connection with the same 15-byte JSON body as the gateway's GET /health. It parses
 * nothing but the blank line that ends each request head (wrk sends no bodies), so it shows
 * what the loop and the socket calls alone cost.   usage: libuv-hello PORT */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
                            "{\"status\":\"ok\"}";
typedef struct { uv_tcp_t tcp; int matched; } client_t;

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
    static char slab[65536];
    (void)h; (void)size;
    *buf = uv_buf_init(slab, sizeof slab);
}
static void on_close(uv_handle_t *h) { free(h); }
static void on_write(uv_write_t *req, int status) { (void)status; free(req); }

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    client_t *c = (client_t *)s;
    if (n < 0) { uv_close((uv_handle_t *)s, on_close); return; }
    int replies = 0;
    for (ssize_t i = 0; i < n; i++) { /* count "\r\n\r\n" across reads */
        char want = "\r\n\r\n"[c->matched];
        c->matched = buf->base[i] == want ? c->matched + 1 : (buf->base[i] == '\r' ? 1 : 0);
        if (c->matched == 4) { replies++; c->matched = 0; }
    }
    if (replies == 0) return;
    size_t one = sizeof reply - 1, total = one * replies;
    uv_write_t *req = malloc(sizeof *req + total);
    char *out = (char *)(req + 1);
    for (int r = 0; r < replies; r++) memcpy(out + r * one, reply, one);
    uv_buf_t b = uv_buf_init(out, total);
    uv_write(req, s, &b, 1, on_write);
}

static void on_connection(uv_stream_t *server, int status) {
    if (status < 0) return;
    client_t *c = calloc(1, sizeof *c);
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0) uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    else uv_close((uv_handle_t *)&c->tcp, on_close);
}

int main(int argc, char **argv) {
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_tcp_init(uv_default_loop(), &server);
    uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 8080, &addr);
    uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (uv_listen((uv_stream_t *)&server, 1024, on_connection) != 0) return 1;
    return uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}
