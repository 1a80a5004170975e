// The C side of the libuv binding: the header, plus what Swift cannot import directly
// (handle upcasts, libuv's error macros as plain ints). Only the Reactor target imports this.
#ifndef CLIBUV_SHIM_H
#define CLIBUV_SHIM_H

#include <uv.h>
#include <malloc.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>

#pragma clang assume_nonnull begin

static inline uv_handle_t *clibuv_tcp_as_handle(uv_tcp_t *h) { return (uv_handle_t *)h; }
static inline uv_stream_t *clibuv_tcp_as_stream(uv_tcp_t *h) { return (uv_stream_t *)h; }
static inline uv_handle_t *clibuv_timer_as_handle(uv_timer_t *h) { return (uv_handle_t *)h; }
static inline uv_handle_t *clibuv_async_as_handle(uv_async_t *h) { return (uv_handle_t *)h; }
static inline uv_handle_t *clibuv_check_as_handle(uv_check_t *h) { return (uv_handle_t *)h; }
static inline uv_handle_t *clibuv_prepare_as_handle(uv_prepare_t *h) { return (uv_handle_t *)h; }
static inline uv_handle_t *clibuv_signal_as_handle(uv_signal_t *h) { return (uv_handle_t *)h; }

static inline const int clibuv_eof(void) { return UV_EOF; }
static inline const int clibuv_ecanceled(void) { return UV_ECANCELED; }
static inline const int clibuv_eagain(void) { return UV_EAGAIN; }
static inline const int clibuv_etimedout(void) { return UV_ETIMEDOUT; }
static inline const int clibuv_ebusy(void) { return UV_EBUSY; }

/// Ignores SIGPIPE for the whole process: a write to a reset peer must be an error, not a death.
/// SIGXFSZ too: a write past the file-size limit must fail (the ledger reports it), not kill.
static inline void clibuv_ignore_sigpipe(void) {
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
}

/// Maps every allocation of `bytes` or more on its own, so it goes back to the system when freed
/// (glibc otherwise raises its threshold after the first large free). Returns 1 on success.
static inline int clibuv_set_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }

/// Names the calling thread (up to 15 bytes), as `top -H` and debuggers show it.
static inline void clibuv_set_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

#pragma clang assume_nonnull end

#endif
