// The C side of the SQLite binding: the header, plus what Swift cannot import directly (the
// SQLITE_TRANSIENT destructor, a macro that casts -1 to a function pointer). Only the Reactor
// target imports this.
#ifndef CSQLITE_SHIM_H
#define CSQLITE_SHIM_H

#include <sqlite3.h>

/// Tells sqlite3_bind_text/blob to copy the bytes before the call returns.
static inline sqlite3_destructor_type _Nonnull csqlite_transient(void) { return SQLITE_TRANSIENT; }

#endif
