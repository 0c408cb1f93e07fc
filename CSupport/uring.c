#define _GNU_SOURCE
#include "sl_uring.h"
#include <liburing.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

struct sl_ring {
    struct io_uring ring;
};

struct sl_bufring {
    struct io_uring_buf_ring *br;
    unsigned char *memory;
    unsigned count;
    unsigned size;
    int group;
    size_t ring_bytes;
};

sl_ring *sl_ring_create(unsigned entries, unsigned flags, int sqpoll_cpu, int *error, unsigned *applied) {
    sl_ring *r = calloc(1, sizeof(*r));
    if (!r) { *error = -ENOMEM; return NULL; }
    struct io_uring_params p;
    unsigned tries[3];
    unsigned applied_try[3];
    int n = 0;
    unsigned base = 0;
    if (flags & SL_RING_SQPOLL) base |= IORING_SETUP_SQPOLL | (sqpoll_cpu >= 0 ? IORING_SETUP_SQ_AFF : 0);
    if ((flags & SL_RING_SINGLE_ISSUER) && !(flags & SL_RING_SQPOLL)) {
        tries[n] = base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN; applied_try[n++] = flags;
    }
    tries[n] = base | IORING_SETUP_COOP_TASKRUN; applied_try[n++] = flags & ~SL_RING_SINGLE_ISSUER;
    tries[n] = base; applied_try[n++] = flags & ~SL_RING_SINGLE_ISSUER;
    int rc = -EINVAL;
    for (int i = 0; i < n; i++) {
        memset(&p, 0, sizeof(p));
        p.flags = tries[i];
        if (tries[i] & IORING_SETUP_SQPOLL) { p.sq_thread_idle = 1000; if (sqpoll_cpu >= 0) p.sq_thread_cpu = (unsigned)sqpoll_cpu; }
        p.flags |= IORING_SETUP_CQSIZE;
        p.cq_entries = entries * 4;
        rc = io_uring_queue_init_params(entries, &r->ring, &p);
        if (rc == 0) { *applied = applied_try[i]; return r; }
        if (rc != -EINVAL) break;
    }
    free(r);
    *error = rc;
    return NULL;
}

void sl_ring_destroy(sl_ring *r) { if (r) { io_uring_queue_exit(&r->ring); free(r); } }

unsigned sl_ring_sq_space(sl_ring *r) { return io_uring_sq_space_left(&r->ring); }

static inline struct io_uring_sqe *sqe_of(sl_ring *r) { return io_uring_get_sqe(&r->ring); }

#define PREP(call) \
    struct io_uring_sqe *s = sqe_of(r); \
    if (!s) return -EBUSY; \
    call; \
    io_uring_sqe_set_data64(s, user_data); \
    return 0

int sl_prep_read(sl_ring *r, int fd, void *buf, unsigned len, uint64_t off, uint64_t user_data) { PREP(io_uring_prep_read(s, fd, buf, len, off)); }
int sl_prep_write(sl_ring *r, int fd, const void *buf, unsigned len, uint64_t off, uint64_t user_data) { PREP(io_uring_prep_write(s, fd, buf, len, off)); }
int sl_prep_writev(sl_ring *r, int fd, const struct iovec *iov, unsigned count, uint64_t off, uint64_t user_data) { PREP(io_uring_prep_writev(s, fd, iov, count, off)); }
int sl_prep_fsync(sl_ring *r, int fd, int datasync, uint64_t user_data) { PREP(io_uring_prep_fsync(s, fd, datasync ? IORING_FSYNC_DATASYNC : 0)); }
int sl_prep_accept_multishot(sl_ring *r, int fd, uint64_t user_data) { PREP(io_uring_prep_multishot_accept(s, fd, NULL, NULL, 0)); }
int sl_prep_recv_multishot(sl_ring *r, int fd, int group, uint64_t user_data) {
    PREP(io_uring_prep_recv_multishot(s, fd, NULL, 0, 0); s->flags |= IOSQE_BUFFER_SELECT; s->buf_group = (unsigned short)group);
}
int sl_prep_recv(sl_ring *r, int fd, void *buf, unsigned len, uint64_t user_data) { PREP(io_uring_prep_recv(s, fd, buf, len, 0)); }
int sl_prep_connect(sl_ring *r, int fd, const void *address, unsigned length, uint64_t user_data) { PREP(io_uring_prep_connect(s, fd, (const struct sockaddr *)address, length)); }
int sl_prep_send(sl_ring *r, int fd, const void *buf, unsigned len, uint64_t user_data) { PREP(io_uring_prep_send(s, fd, buf, len, MSG_NOSIGNAL)); }
int sl_prep_poll_add(sl_ring *r, int fd, unsigned poll_mask, uint64_t user_data) { PREP(io_uring_prep_poll_add(s, fd, poll_mask)); }

// Timeouts copy the timespec into the SQE at prep time only for the _update variants; the plain
// one keeps a pointer until submit, so each thread (one ring per worker thread) keeps a small rotating store of them.
#define SL_TIMESPEC_SLOTS 64
static __thread struct __kernel_timespec timespec_store[SL_TIMESPEC_SLOTS];
static __thread unsigned timespec_next;

int sl_prep_timeout(sl_ring *r, uint64_t nanos, uint64_t user_data) {
    struct __kernel_timespec *ts = &timespec_store[timespec_next++ % SL_TIMESPEC_SLOTS];
    ts->tv_sec = (long long)(nanos / 1000000000ull);
    ts->tv_nsec = (long long)(nanos % 1000000000ull);
    PREP(io_uring_prep_timeout(s, ts, 0, 0));
}
int sl_prep_close(sl_ring *r, int fd, uint64_t user_data) { PREP(io_uring_prep_close(s, fd)); }
int sl_prep_cancel(sl_ring *r, uint64_t target, uint64_t user_data) { PREP(io_uring_prep_cancel64(s, target, 0)); }
int sl_prep_nop(sl_ring *r, uint64_t user_data) { PREP(io_uring_prep_nop(s)); }
int sl_prep_openat(sl_ring *r, int dfd, const char *path, int flags, unsigned mode, uint64_t user_data) {
    PREP(io_uring_prep_openat(s, dfd, path, flags | O_CLOEXEC, mode));
}
int sl_prep_unlinkat(sl_ring *r, int dfd, const char *path, uint64_t user_data) { PREP(io_uring_prep_unlinkat(s, dfd, path, 0)); }
int sl_prep_renameat(sl_ring *r, int dfd, const char *old_path, const char *new_path, uint64_t user_data) {
    PREP(io_uring_prep_renameat(s, dfd, old_path, dfd, new_path, 0));
}

int sl_ring_submit_and_wait(sl_ring *r, unsigned wait_nr, int64_t timeout_nanos) {
    // With DEFER_TASKRUN completions are only posted when the task asks for events, so the
    // no-wait path must use submit_and_get_events rather than plain submit.
    if (wait_nr == 0) return io_uring_submit_and_get_events(&r->ring);
    if (timeout_nanos < 0) return io_uring_submit_and_wait(&r->ring, wait_nr);
    struct __kernel_timespec ts = { .tv_sec = timeout_nanos / 1000000000ll, .tv_nsec = timeout_nanos % 1000000000ll };
    struct io_uring_cqe *cqe = NULL;
    return io_uring_submit_and_wait_timeout(&r->ring, &cqe, wait_nr, &ts, NULL);
}

unsigned sl_ring_drain(sl_ring *r, sl_cqe *out, unsigned max) {
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&r->ring, head, cqe) {
        if (n == max) break;
        out[n].user_data = cqe->user_data;
        out[n].res = cqe->res;
        out[n].flags = cqe->flags;
        n++;
    }
    io_uring_cq_advance(&r->ring, n);
    return n;
}

sl_bufring *sl_bufring_create(sl_ring *r, unsigned count, unsigned size, int group, int *error) {
    sl_bufring *b = calloc(1, sizeof(*b));
    if (!b) { *error = -ENOMEM; return NULL; }
    b->count = count; b->size = size; b->group = group;
    b->ring_bytes = count * sizeof(struct io_uring_buf);
    void *ringmem = mmap(NULL, b->ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ringmem == MAP_FAILED) { *error = -errno; free(b); return NULL; }
    b->br = ringmem;
    b->memory = mmap(NULL, (size_t)count * size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (b->memory == MAP_FAILED) { *error = -errno; munmap(ringmem, b->ring_bytes); free(b); return NULL; }
    io_uring_buf_ring_init(b->br);
    struct io_uring_buf_reg reg = { .ring_addr = (unsigned long)b->br, .ring_entries = count, .bgid = (unsigned short)group };
    int rc = io_uring_register_buf_ring(&r->ring, &reg, 0);
    if (rc) { *error = rc; munmap(b->memory, (size_t)count * size); munmap(ringmem, b->ring_bytes); free(b); return NULL; }
    int mask = io_uring_buf_ring_mask(count);
    for (unsigned i = 0; i < count; i++) io_uring_buf_ring_add(b->br, b->memory + (size_t)i * size, size, (unsigned short)i, mask, (int)i);
    io_uring_buf_ring_advance(b->br, (int)count);
    return b;
}

void sl_bufring_destroy(sl_ring *r, sl_bufring *b) {
    if (!b) return;
    io_uring_unregister_buf_ring(&r->ring, b->group);
    munmap(b->memory, (size_t)b->count * b->size);
    munmap(b->br, b->ring_bytes);
    free(b);
}

void *sl_bufring_buffer(sl_bufring *b, unsigned id) { return b->memory + (size_t)id * b->size; }

void sl_bufring_recycle(sl_bufring *b, unsigned id) {
    io_uring_buf_ring_add(b->br, b->memory + (size_t)id * b->size, b->size, (unsigned short)id, io_uring_buf_ring_mask(b->count), 0);
    io_uring_buf_ring_advance(b->br, 1);
}

const char *sl_errno_name(int code) { return strerrorname_np(code); }

int sl_wake_fd(void) { int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); return fd < 0 ? -errno : fd; }

int sl_tcp_unacknowledged(int fd) {
    struct tcp_info info;
    socklen_t length = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return -1;
    if (info.tcpi_state != TCP_ESTABLISHED) return -1;
    int unacknowledged = 0;
    if (ioctl(fd, SIOCOUTQ, &unacknowledged) != 0) return -1;
    return unacknowledged;
}


struct sl_recvmsg_header {
    struct msghdr msg;
};

sl_recvmsg_header *sl_recvmsg_header_create(void) {
    sl_recvmsg_header *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    h->msg.msg_namelen = 0;
    h->msg.msg_controllen = CMSG_SPACE(sizeof(uint32_t));
    return h;
}

void sl_recvmsg_header_destroy(sl_recvmsg_header *h) { free(h); }

int sl_prep_recvmsg_multishot(sl_ring *r, int fd, sl_recvmsg_header *header, int group, uint64_t user_data) {
    PREP(io_uring_prep_recvmsg_multishot(s, fd, &header->msg, 0); s->flags |= IOSQE_BUFFER_SELECT; s->buf_group = (unsigned short)group);
}

int sl_recvmsg_parse(void *buffer, int length, sl_recvmsg_header *header, void **payload, unsigned *payload_length,
                     int64_t *drops, int *truncated) {
    struct io_uring_recvmsg_out *out = io_uring_recvmsg_validate(buffer, length, &header->msg);
    if (!out) return -1;
    *payload = io_uring_recvmsg_payload(out, &header->msg);
    *payload_length = io_uring_recvmsg_payload_length(out, length, &header->msg);
    *truncated = (out->flags & MSG_TRUNC) != 0;
    *drops = -1;
    for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(out, &header->msg); c; c = io_uring_recvmsg_cmsg_nexthdr(out, &header->msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
            uint32_t count;
            memcpy(&count, CMSG_DATA(c), sizeof(count));
            *drops = count;
        }
    }
    return 0;
}
