// The machine's own limit for file-devnull: pread(2) a file in 256 KiB chunks and count
// newlines with memchr — the least any line reader must do — on THREADS threads, each over its
// own byte range of the file. Prints bytes, lines, seconds, GB/s.
// With MODE `tokens` (third argument) it also walks every byte through a small JSON tokenizer
// state machine (strings, escapes, structural characters): compute-bound like json_decode, so
// 1 → 2 threads shows how much a second vCPU gives a CPU-bound loop on this machine right now.
// MODE `slots` does what a line reader with an event pool does: each line is copied into the
// next 4 KiB slot of an 8 MiB ring per thread, and the tokenizer walks the copy.
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct range { int fd; off_t start, end; unsigned long long lines, tokens; };
static int tokens_mode, slots_mode;

static unsigned long long tokenize(const char *q, const char *end) {
    int in_string = 0, escaped = 0;
    unsigned long long t = 0;
    for (; q < end; q++) {
        char c = *q;
        if (in_string) {
            if (escaped) escaped = 0;
            else if (c == '\\') escaped = 1;
            else if (c == '"') in_string = 0;
        } else if (c == '"') { in_string = 1; t++; }
        else if (c == '{' || c == '}' || c == ':' || c == ',' || c == '[' || c == ']') t++;
    }
    return t;
}

static void *scan(void *arg) {
    struct range *r = arg;
    size_t size = 256 << 10;
    char *buf = aligned_alloc(4096, size);
    size_t slot_size = 4096, slot_count = 2048, next_slot = 0;
    char *slots = slots_mode ? aligned_alloc(4096, slot_size * slot_count) : NULL;
    for (off_t off = r->start; off < r->end;) {
        size_t want = (size_t)(r->end - off) < size ? (size_t)(r->end - off) : size;
        ssize_t n = pread(r->fd, buf, want, off);
        if (n <= 0) break;
        char *p = buf, *end = buf + n;
        if (tokens_mode) r->tokens += tokenize(buf, end);
        if (slots_mode) {
            char *line = p;
            while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
                size_t length = (size_t)(p - line);
                if (length <= slot_size) {
                    char *slot = slots + slot_size * next_slot;
                    next_slot = (next_slot + 1) % slot_count;
                    memcpy(slot, line, length);
                    r->tokens += tokenize(slot, slot + length);
                } else {
                    r->tokens += tokenize(line, p);
                }
                r->lines++;
                line = ++p;
            }
            off += p == NULL ? (off_t)(line - buf) : n;  // a line cut by the chunk is read again
            if (line == buf) off += n;  // no newline in a whole chunk: skip it
            continue;
        }
        while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) { r->lines++; p++; }
        off += n;
    }
    free(buf);
    free(slots);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: readscan FILE [THREADS] [lines|tokens|slots]\n"); return 2; }
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    tokens_mode = argc > 3 && strcmp(argv[3], "tokens") == 0;
    slots_mode = argc > 3 && strcmp(argv[3], "slots") == 0;
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { perror("open"); return 1; }
    struct stat st;
    fstat(fd, &st);
    struct range r[64];
    pthread_t th[64];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < threads; i++) {
        r[i] = (struct range){ fd, st.st_size * i / threads, st.st_size * (i + 1) / threads, 0, 0 };
        pthread_create(&th[i], NULL, scan, &r[i]);
    }
    unsigned long long lines = 0;
    for (int i = 0; i < threads; i++) { pthread_join(th[i], NULL); lines += r[i].lines; }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%lld %llu %.3f %.2f\n", (long long)st.st_size, lines, s, st.st_size / s / 1e9);
    return 0;
}
