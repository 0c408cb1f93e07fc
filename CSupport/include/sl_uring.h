#ifndef SL_URING_H
#define SL_URING_H
// Thin wrappers over liburing: its helpers are static inline functions over structs with unions,
// which Swift cannot import cleanly, so the shim keeps `struct io_uring` opaque and exposes plain
// functions. One call prepares one SQE; completions are copied out in batches (no CQE pointers
// escape to Swift).
#include <stdint.h>
#include <stddef.h>
#include <sys/uio.h>

typedef struct sl_ring sl_ring;
typedef struct sl_bufring sl_bufring;

/// A completion as Swift sees it.
typedef struct sl_cqe {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
} sl_cqe;

enum {
    SL_RING_SQPOLL = 1,         // kernel thread polls the SQ (sqpoll_cpu pins it when >= 0)
    SL_RING_SINGLE_ISSUER = 2,  // IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (falls back when refused)
};
enum {
    SL_CQE_F_BUFFER = 1,        // IORING_CQE_F_BUFFER: a provided buffer was used
    SL_CQE_F_MORE = 2,          // IORING_CQE_F_MORE: a multishot request stays armed
    SL_CQE_BUFFER_SHIFT = 16,   // IORING_CQE_BUFFER_SHIFT
};

/// Creates a ring; on failure returns NULL and stores -errno in *error. *applied_flags tells
/// which SL_RING_* flags the kernel accepted.
sl_ring *sl_ring_create(unsigned entries, unsigned flags, int sqpoll_cpu, int *error, unsigned *applied_flags);
void sl_ring_destroy(sl_ring *ring);
/// Free SQ slots (why C: io_uring_sq_space_left is inline).
unsigned sl_ring_sq_space(sl_ring *ring);

// Each prep returns 0, or -EBUSY when the submission queue is full.
int sl_prep_read(sl_ring *ring, int fd, void *buf, unsigned len, uint64_t offset, uint64_t user_data);
int sl_prep_write(sl_ring *ring, int fd, const void *buf, unsigned len, uint64_t offset, uint64_t user_data);
int sl_prep_writev(sl_ring *ring, int fd, const struct iovec *iov, unsigned count, uint64_t offset, uint64_t user_data);
int sl_prep_fsync(sl_ring *ring, int fd, int datasync, uint64_t user_data);
int sl_prep_accept_multishot(sl_ring *ring, int fd, uint64_t user_data);
int sl_prep_recv_multishot(sl_ring *ring, int fd, int buffer_group, uint64_t user_data);
int sl_prep_recv(sl_ring *ring, int fd, void *buf, unsigned len, uint64_t user_data);
int sl_prep_connect(sl_ring *ring, int fd, const void *address, unsigned address_length, uint64_t user_data);
int sl_prep_send(sl_ring *ring, int fd, const void *buf, unsigned len, uint64_t user_data);
/// One-shot readiness poll (IORING_OP_POLL_ADD): completes with the ready events (POLLIN, POLLOUT,
/// POLLERR, POLLHUP) or -errno; for sockets a C library reads and writes itself (libpq).
int sl_prep_poll_add(sl_ring *ring, int fd, unsigned poll_mask, uint64_t user_data);
/// Relative timeout of `nanos`; fires a CQE with -ETIME.
int sl_prep_timeout(sl_ring *ring, uint64_t nanos, uint64_t user_data);
int sl_prep_close(sl_ring *ring, int fd, uint64_t user_data);
int sl_prep_cancel(sl_ring *ring, uint64_t target_user_data, uint64_t user_data);
int sl_prep_nop(sl_ring *ring, uint64_t user_data);
/// File-system operations relative to the directory `dfd` (the disk buffer's segments and
/// position file); `path` must stay valid until the completion. openat's result is the new fd.
int sl_prep_openat(sl_ring *ring, int dfd, const char *path, int flags, unsigned mode, uint64_t user_data);
int sl_prep_unlinkat(sl_ring *ring, int dfd, const char *path, uint64_t user_data);
int sl_prep_renameat(sl_ring *ring, int dfd, const char *old_path, const char *new_path, uint64_t user_data);

/// Submits prepared SQEs and waits for at least `wait_nr` completions or `timeout_nanos`
/// (negative: no limit). Returns submitted count or -errno (-ETIME on timeout is normal).
int sl_ring_submit_and_wait(sl_ring *ring, unsigned wait_nr, int64_t timeout_nanos);
/// Copies up to `max` ready completions into `out` and marks them seen.
unsigned sl_ring_drain(sl_ring *ring, sl_cqe *out, unsigned max);

/// A provided-buffer ring (IORING_REGISTER_PBUF_RING) of `count` (power of two) buffers of
/// `size` bytes each, for multishot recv.
sl_bufring *sl_bufring_create(sl_ring *ring, unsigned count, unsigned size, int group, int *error);
void sl_bufring_destroy(sl_ring *ring, sl_bufring *bufring);
void *sl_bufring_buffer(sl_bufring *bufring, unsigned id);
/// Hands buffer `id` back to the kernel.
void sl_bufring_recycle(sl_bufring *bufring, unsigned id);

/// The message header a multishot recvmsg reads (no source address, room for one SO_RXQ_OVFL
/// control message), allocated once per family; it must outlive every recvmsg that uses it
/// (why C: CMSG_SPACE and struct msghdr's layout are macros and glibc details).
typedef struct sl_recvmsg_header sl_recvmsg_header;
sl_recvmsg_header *sl_recvmsg_header_create(void);
void sl_recvmsg_header_destroy(sl_recvmsg_header *header);
/// A multishot recvmsg (one CQE per datagram) into provided buffers of `buffer_group`.
int sl_prep_recvmsg_multishot(sl_ring *ring, int fd, sl_recvmsg_header *header, int buffer_group, uint64_t user_data);
/// One provided buffer filled by a multishot recvmsg, `length` bytes (the CQE's result): its
/// datagram's bytes, the socket's drop count from SO_RXQ_OVFL (-1 when absent) and whether the
/// datagram was longer than the buffer. Returns 0, or -1 when the buffer is not a valid result
/// (why C: io_uring_recvmsg_validate and the CMSG walk are inline helpers and macros).
int sl_recvmsg_parse(void *buffer, int length, sl_recvmsg_header *header, void **payload, unsigned *payload_length,
                     int64_t *drops, int *truncated);

/// A non-blocking, close-on-exec eventfd that wakes a sleeping worker's ring; -errno on failure
/// (why C: <sys/eventfd.h> is not part of Swift's Glibc module).
int sl_wake_fd(void);

/// Bytes sent on `fd` that the peer's TCP has not acknowledged yet (SIOCOUTQ), or -1 when the
/// connection is closing or gone (the peer half-closed, reset, …) so unacknowledged data must be
/// sent again elsewhere (why C: SIOCOUTQ and struct tcp_info are not in Swift's Glibc module).
int sl_tcp_unacknowledged(int fd);

/// The errno's symbolic name ("ECONNRESET"), or NULL (why C: strerrorname_np is a GNU extension).
const char *sl_errno_name(int code);
#endif
