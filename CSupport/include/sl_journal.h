#ifndef SL_JOURNAL_H
#define SL_JOURNAL_H
// The systemd journal reader (libsystemd), for the journald input.
#include <systemd/sd-journal.h>
#endif
