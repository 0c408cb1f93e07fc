#ifndef SL_CPU_H
#define SL_CPU_H
// CPU affinity: cpu_set_t is built from macros Swift cannot call.

/// Writes the CPUs this process may run on into `out` (up to `max`); returns how many.
int sl_allowed_cpus(int *out, int max);
/// Pins the calling thread to `cpu`; 0 or -errno.
int sl_pin_current_thread(int cpu);
/// Blocks SIGINT, SIGTERM, SIGHUP and SIGPIPE in the calling thread (threads made later inherit
/// it), so only the control thread takes them through sigtimedwait.
int sl_block_control_signals(void);
/// Waits up to `timeout_millis` for a blocked control signal; returns its number, 0 on timeout.
int sl_wait_control_signal(int timeout_millis);
/// A signalfd over the control signals (without SIGPIPE), readable while one is pending: the
/// control thread polls it beside its other descriptors so a signal ends its wait at once.
/// Returns the fd or -errno.
int sl_control_signal_fd(void);
#endif
