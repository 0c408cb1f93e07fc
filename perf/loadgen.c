// Load for perf/peers.sh: N TCP connections to 127.0.0.1:PORT, each sending LINES lines of
// 256 bytes ("<seq>-<conn> xxxx...\n") as fast as the receiver takes them. Prints the number of
// lines sent and the seconds it took. Same load for every receiver.
// With a fifth argument `syslog`, each record is an RFC 5424 message with structured data,
// octet-counted (RFC 6587: "LEN SP MSG", no newline), 256 bytes with its count.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;
static long lines_per_conn;
static int syslog_mode;

static void *sender(void *arg) {
    long conn = (long)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); exit(1); }
    enum { LINE = 256, PER_WRITE = 256 };
    static __thread char buf[LINE * PER_WRITE];
    long seq = 0;
    while (seq < lines_per_conn) {
        long n = lines_per_conn - seq < PER_WRITE ? lines_per_conn - seq : PER_WRITE;
        for (long i = 0; i < n; i++) {
            char *p = buf + i * LINE;
            if (syslog_mode) {
                // "252 " + a 252-byte message: every record is LINE bytes on the wire.
                int k = snprintf(p, LINE, "%d <165>1 2026-12-05T07:00:00.123456Z host.example.com app %ld ID47 "
                                 "[meta seq=\"%ld\" conn=\"%ld\"] m%ld-%ld ", LINE - 4, conn, seq + i, conn, seq + i, conn);
                memset(p + k, 'x', LINE - k);
                continue;
            }
            int k = snprintf(p, LINE, "m%ld-%ld ", seq + i, conn);
            memset(p + k, 'x', LINE - 1 - k);
            p[LINE - 1] = '\n';
        }
        size_t off = 0, total = (size_t)n * LINE;
        while (off < total) {
            ssize_t w = send(fd, buf + off, total - off, MSG_NOSIGNAL);
            if (w <= 0) { perror("send"); exit(1); }
            off += (size_t)w;
        }
        seq += n;
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4 && !(argc == 5 && strcmp(argv[4], "syslog") == 0)) {
        fprintf(stderr, "usage: loadgen PORT CONNECTIONS LINES_PER_CONNECTION [syslog]\n");
        return 2;
    }
    syslog_mode = argc == 5;
    port = atoi(argv[1]);
    int conns = atoi(argv[2]);
    lines_per_conn = atol(argv[3]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t th[1024];
    for (long c = 0; c < conns; c++) pthread_create(&th[c], NULL, sender, (void *)c);
    for (int c = 0; c < conns; c++) pthread_join(th[c], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%ld %.3f\n", lines_per_conn * conns, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
