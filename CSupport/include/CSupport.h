// Umbrella header of the C shim: everything Swift reaches in C goes through these headers.
#include "sl_uring.h"
#include "sl_numa.h"
#include "sl_cpu.h"
#include "sl_atomics.h"
#include "sl_pcre.h"
#include "sl_compress.h"
