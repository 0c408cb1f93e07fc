// For perf/peers.sh: waits until FILE holds COUNT lines or TIMEOUT seconds pass. It follows the
// end of the file (a read every 2 ms), so it reads each byte once and sees the last line within
// 2 ms of its arrival. The former wait, `wc -l` of the whole file every 20 ms once the load was
// sent, read a 500 MB output again on every poll and saw the end up to a poll's length (0.1-0.3 s
// on that file) late, a fifth of a one-second run. Prints the lines seen and the CLOCK_REALTIME
// second at which the last of them was seen; exits 0 when COUNT was reached, 1 otherwise.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: waitlines FILE COUNT TIMEOUT_SECONDS\n");
        return 2;
    }
    const char *path = argv[1];
    long want = atol(argv[2]);
    double deadline = now() + atof(argv[3]);
    static char buf[1 << 20];
    long lines = 0;
    double last = now();
    int fd = -1;
    const struct timespec pause = { 0, 2 * 1000 * 1000 };
    while (lines < want && now() < deadline) {
        if (fd < 0) {
            fd = open(path, O_RDONLY);
            if (fd < 0) { nanosleep(&pause, NULL); continue; }
        }
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) { fprintf(stderr, "waitlines: %s: %s\n", path, strerror(errno)); return 2; }
        if (n == 0) { nanosleep(&pause, NULL); continue; }
        long before = lines;
        for (char *p = buf, *end = buf + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) lines++;
        if (lines != before) last = now();
    }
    printf("%ld %.6f\n", lines, last);
    return lines >= want ? 0 : 1;
}
