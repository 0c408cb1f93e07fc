// The latency scenario's path with nothing of Sluice in it: a paced sender writes 128 B lines
// `{"t":SEND_NANOS,...}` over one loopback TCP connection (bursts, like `sluice bench latency`),
// one receiver thread reads them and appends them to a file on the same file system, a reader
// thread follows the file with inotify and records arrival − send time. It measures what this
// machine gives for that path, so Sluice's figures can be read against it.
//
//   latpath OUT_FILE RATE SECONDS MODE     MODE: write (write(2) in the receiver)
//                                                uring (io_uring write, as Sluice does)
//                                                port:N (no receiver: send to 127.0.0.1:N, where
//                                                a program under test writes OUT_FILE, e.g.
//                                                `sluice run --input tcp:listen=127.0.0.1:N
//                                                --output file:path=OUT_FILE`)
//                                                relay:N:M (no receiver, no file: send to port
//                                                N, read the lines back from the connection the
//                                                program under test makes to port M, e.g.
//                                                `--output tcp:address=127.0.0.1:M`; OUT_FILE
//                                                is unused)
// prints: p50_us p99_us p999_us max_us lines
// With LATPATH_SPIN=1 the reader spins on read(2) instead of waiting for inotify (it takes a
// whole CPU): how much of the measured latency is the reader's own wake-up.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *out_path;
static long rate, total;
static int use_uring;
static int port;
static int spin_reader;
static int relay_fd = -1;  // relay mode: where the program under test connects (once per worker)
static volatile long received;
static uint64_t *lat;

static void *sender(void *arg) {
    (void)arg;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd;
    for (;;) {  // a new socket per attempt: the node under test may not listen yet
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) break;
        close(fd);
        usleep(1000);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buf[64 * 128];
    uint64_t start = now_ns();
    long sent = 0;
    while (sent < total) {
        long due = (long)((double)(now_ns() - start) / 1e9 * rate) + 1;
        if (due > total) due = total;
        if (due - sent > 64) due = sent + 64;
        int len = 0;
        for (; sent < due; sent++) {
            char *l = buf + len;
            int n = snprintf(l, 128, "{\"t\":%llu,\"seq\":%ld,\"pad\":\"", (unsigned long long)now_ns(), sent);
            memset(l + n, 'x', 125 - n);
            memcpy(l + 125, "\"}\n", 3);
            len += 128;
        }
        for (int off = 0; off < len;) {
            ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
            if (n <= 0) return NULL;
            off += n;
        }
        uint64_t next = start + (uint64_t)((double)sent / rate * 1e9), t = now_ns();
        if (next > t) usleep((useconds_t)((next - t > 100000 ? 100000 : next - t) / 1000));
    }
    close(fd);
    return NULL;
}

static void *receiver(void *arg) {
    int lfd = *(int *)arg;
    int fd = accept(lfd, NULL, NULL);
    int out = open(out_path, O_WRONLY | O_APPEND);
    struct io_uring ring;
    if (use_uring) io_uring_queue_init(64, &ring, 0);
    static char buf[1 << 16];
    size_t have = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + have, sizeof buf - have, 0);
        if (n <= 0) break;
        have += n;
        size_t whole = have;
        while (whole > 0 && buf[whole - 1] != '\n') whole--;
        if (whole == 0) continue;
        if (use_uring) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            io_uring_prep_write(sqe, out, buf, whole, -1);
            io_uring_submit_and_wait(&ring, 1);
            struct io_uring_cqe *cqe;
            io_uring_wait_cqe(&ring, &cqe);
            io_uring_cqe_seen(&ring, cqe);
        } else {
            if (write(out, buf, whole) != (ssize_t)whole) abort();
        }
        memmove(buf, buf + whole, have - whole);
        have -= whole;
    }
    close(out);
    close(fd);
    return NULL;
}

static void *reader(void *arg) {
    (void)arg;
    if (relay_fd >= 0) {
        // The lines come back over TCP, over as many connections as the program makes (Sluice:
        // one per worker); poll wakes on each segment. Lines do not span connections.
        enum { most = 64 };
        struct pollfd p[most + 1] = {{.fd = relay_fd, .events = POLLIN}};
        static char buf[1 << 20], pend[most][1 << 16];
        size_t have[most] = {0};
        int count = 0;
        while (received < total) {
            if (poll(p, (nfds_t)count + 1, 50) <= 0) continue;
            if ((p[0].revents & POLLIN) && count < most) {
                p[count + 1] = (struct pollfd){.fd = accept(relay_fd, NULL, NULL), .events = POLLIN};
                count++;
            }
            for (int c = 0; c < count; c++) {
                if (!(p[c + 1].revents & POLLIN)) continue;
                ssize_t n = recv(p[c + 1].fd, buf, sizeof buf, 0);
                if (n <= 0) { p[c + 1].fd = -1; continue; }
                uint64_t arrival = now_ns();
                for (ssize_t i = 0; i < n; i++) {
                    pend[c][have[c]++] = buf[i];
                    if (buf[i] == '\n') {
                        uint64_t t = strtoull(pend[c] + 5, NULL, 10);
                        if (received < total) lat[received++] = arrival > t ? arrival - t : 0;
                        have[c] = 0;
                    }
                }
            }
        }
        for (int c = 0; c < count; c++) if (p[c + 1].fd >= 0) close(p[c + 1].fd);
        return NULL;
    }
    int fd = open(out_path, O_RDONLY);
    int in = inotify_init1(IN_CLOEXEC);
    inotify_add_watch(in, out_path, IN_MODIFY);
    static char buf[1 << 20], pend[1 << 16];
    char ev[4096];
    size_t have = 0;
    struct pollfd p = {.fd = in, .events = POLLIN};
    while (received < total) {
        if (!spin_reader && poll(&p, 1, 50) > 0) (void)!read(in, ev, sizeof ev);
        for (;;) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) break;
            uint64_t arrival = now_ns();
            for (ssize_t i = 0; i < n; i++) {
                pend[have++] = buf[i];
                if (buf[i] == '\n') {
                    uint64_t t = strtoull(pend + 5, NULL, 10);
                    if (received < total) lat[received++] = arrival > t ? arrival - t : 0;
                    have = 0;
                }
            }
        }
    }
    close(in);
    close(fd);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: latpath OUT_FILE RATE SECONDS write|uring\n");
        return 2;
    }
    out_path = argv[1];
    rate = atol(argv[2]);
    total = (long)(rate * atof(argv[3]));
    use_uring = strcmp(argv[4], "uring") == 0;
    int external = strncmp(argv[4], "port:", 5) == 0 || strncmp(argv[4], "relay:", 6) == 0;
    spin_reader = getenv("LATPATH_SPIN") != NULL;
    lat = calloc(total, sizeof *lat);
    if (!external) close(open(out_path, O_CREAT | O_TRUNC | O_WRONLY, 0644));
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(lfd, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &al);
    port = ntohs(a.sin_port);
    listen(lfd, 1);
    if (external) {
        close(lfd);
        if (strncmp(argv[4], "relay:", 6) == 0) {
            int back = 0;
            if (sscanf(argv[4] + 6, "%d:%d", &port, &back) != 2) { fprintf(stderr, "relay:IN_PORT:OUT_PORT\n"); return 2; }
            relay_fd = socket(AF_INET, SOCK_STREAM, 0);
            int one = 1;
            setsockopt(relay_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            struct sockaddr_in b = {.sin_family = AF_INET, .sin_port = htons(back), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            if (bind(relay_fd, (struct sockaddr *)&b, sizeof b) != 0 || listen(relay_fd, 64) != 0) { perror("relay listen"); return 2; }
        } else {
            port = atoi(argv[4] + 5);
        }
    }
    pthread_t s, r, d;
    pthread_create(&d, NULL, reader, NULL);
    if (relay_fd >= 0) usleep(500000);  // the program under test connects its outputs first
    if (!external) pthread_create(&r, NULL, receiver, &lfd);
    pthread_create(&s, NULL, sender, NULL);
    pthread_join(s, NULL);
    if (!external) pthread_join(r, NULL);
    uint64_t deadline = now_ns() + 10000000000ull;
    while (received < total && now_ns() < deadline) usleep(1000);
    long n = received;
    qsort(lat, n, sizeof *lat, cmp);
    printf("%.1f %.1f %.1f %.1f %ld\n", lat[n / 2] / 1e3, lat[(long)(n * 0.99)] / 1e3, lat[(long)(n * 0.999)] / 1e3, lat[n - 1] / 1e3, n);
    if (!external) unlink(out_path);
    return n == total ? 0 : 1;
}
