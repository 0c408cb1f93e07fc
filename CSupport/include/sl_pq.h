#ifndef SL_PQ_H
#define SL_PQ_H
// libpq, PostgreSQL's client library, for the postgres output: used in its non-blocking mode,
// its socket polled through the worker's ring (Plugins/Outputs/postgres). Debian's libpq-dev
// installs the header under postgresql/; its own includes are quoted, so they resolve there.
#include <postgresql/libpq-fe.h>
#endif
