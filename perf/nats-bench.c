// The baselines of perf/nats.sh: what libnats alone does on this machine, against which the
// nats output and input are measured.
//   nats-bench publish URL STREAM SUBJECT FILE WINDOW
//       every line of FILE as one message, js_PublishAsync with MaxPending = WINDOW, a
//       Nats-Msg-Id and the expected stream (what the nats output sends), then waits for every
//       PubAck; prints messages/s.
//   nats-bench consume URL STREAM CONSUMER COUNT BATCH
//       a durable pull consumer (explicit acks), natsSubscription_Fetch of BATCH, each message
//       acknowledged, until COUNT messages; prints messages/s.
//   nats-bench pull URL STREAM CONSUMER COUNT BATCH
//       the same consumer pulling continuously, as the nats input does: pull requests of BATCH
//       published by hand so that two batches are always asked for, each message acknowledged;
//       prints messages/s.
// Build: cc -O2 -o nats-bench perf/nats-bench.c -lnats
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void check(natsStatus s, const char *what) {
    if (s == NATS_OK) return;
    fprintf(stderr, "%s: %s\n", what, natsStatus_GetText(s));
    nats_PrintLastErrorStack(stderr);
    exit(1);
}

static int publish(natsConnection *nc, const char *stream, const char *subject, const char *path, int window) {
    jsOptions options;
    jsOptions_Init(&options);
    options.PublishAsync.MaxPending = window;
    options.PublishAsync.StallWait = 60000;  // a loaded machine must slow it down, not fail it
    jsCtx *js = NULL;
    check(natsConnection_JetStream(&js, nc, &options), "jetstream");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    long count = 0;
    char id[64];
    double start = now_seconds();
    while ((length = getline(&line, &capacity, f)) > 0) {
        if (line[length - 1] == '\n') length--;
        jsPubOptions pub;
        jsPubOptions_Init(&pub);
        snprintf(id, sizeof id, "c-%ld", count);
        pub.MsgId = id;
        pub.ExpectStream = stream;
        check(js_PublishAsync(js, subject, line, (int)length, &pub), "publish");
        count++;
    }
    jsPubOptions done;
    jsPubOptions_Init(&done);
    done.MaxWait = 60000;
    check(js_PublishAsyncComplete(js, &done), "complete");
    double seconds = now_seconds() - start;
    printf("c-publisher: %ld messages in %.3f s: %.0f messages/s (window %d)\n", count, seconds, count / seconds, window);
    free(line);
    fclose(f);
    jsCtx_Destroy(js);
    return 0;
}

static void add_consumer(jsCtx *js, const char *stream, const char *consumer) {
    jsConsumerConfig config;
    jsConsumerConfig_Init(&config);
    config.Durable = consumer;
    config.AckPolicy = js_AckExplicit;
    config.MaxAckPending = -1;
    jsConsumerInfo *info = NULL;
    jsErrCode code = 0;
    check(js_AddConsumer(&info, js, stream, &config, NULL, &code), "add consumer");
    jsConsumerInfo_Destroy(info);
}

static int consume(natsConnection *nc, const char *stream, const char *consumer, long count, int batch) {
    jsCtx *js = NULL;
    check(natsConnection_JetStream(&js, nc, NULL), "jetstream");
    add_consumer(js, stream, consumer);
    jsErrCode code = 0;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Consumer = consumer;
    natsSubscription *sub = NULL;
    check(js_PullSubscribe(&sub, js, NULL, consumer, NULL, &so, &code), "pull subscribe");
    long received = 0;
    double start = now_seconds();
    while (received < count) {
        natsMsgList list = {0};
        natsStatus s = natsSubscription_Fetch(&list, sub, batch, 5000, &code);
        if (s == NATS_TIMEOUT) break;
        check(s, "fetch");
        for (int i = 0; i < list.Count; i++) natsMsg_Ack(list.Msgs[i], NULL);
        received += list.Count;
        natsMsgList_Destroy(&list);
    }
    natsConnection_Flush(nc);
    double seconds = now_seconds() - start;
    printf("c-consumer: %ld messages in %.3f s: %.0f messages/s (batch %d)\n", received, seconds, received / seconds, batch);
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    return received == count ? 0 : 1;
}

static int pull(natsConnection *nc, const char *stream, const char *consumer, long count, int batch) {
    jsCtx *js = NULL;
    check(natsConnection_JetStream(&js, nc, NULL), "jetstream");
    add_consumer(js, stream, consumer);
    natsInbox *inbox = NULL;
    check(natsInbox_Create(&inbox), "inbox");
    natsSubscription *sub = NULL;
    check(natsConnection_SubscribeSync(&sub, nc, inbox), "subscribe");
    check(natsSubscription_SetPendingLimits(sub, -1, -1), "pending limits");
    char next[512], request[96];
    snprintf(next, sizeof next, "$JS.API.CONSUMER.MSG.NEXT.%s.%s", stream, consumer);
    int length = snprintf(request, sizeof request, "{\"batch\":%d,\"expires\":%lld}", batch, 500000000LL);
    long received = 0, asked = 0;
    double start = now_seconds();
    while (received < count) {
        while (asked <= batch) {
            check(natsConnection_PublishRequest(nc, next, inbox, request, length), "pull request");
            asked += batch;
        }
        natsMsg *msg = NULL;
        natsStatus s = natsSubscription_NextMsg(&msg, sub, 5000);
        if (s == NATS_TIMEOUT) break;
        check(s, "next message");
        const char *status = NULL, *pending = NULL;
        if (natsMsg_GetDataLength(msg) == 0 && natsMsgHeader_Get(msg, "Status", &status) == NATS_OK) {
            asked -= natsMsgHeader_Get(msg, "Nats-Pending-Messages", &pending) == NATS_OK ? atol(pending) : batch;
        } else {
            natsConnection_PublishString(nc, natsMsg_GetReply(msg), "+ACK");
            received++;
            asked--;
        }
        natsMsg_Destroy(msg);
    }
    natsConnection_Flush(nc);
    double seconds = now_seconds() - start;
    printf("c-pull: %ld messages in %.3f s: %.0f messages/s (batch %d, two asked for)\n", received, seconds, received / seconds, batch);
    natsSubscription_Destroy(sub);
    natsInbox_Destroy(inbox);
    jsCtx_Destroy(js);
    return received == count ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s publish URL STREAM SUBJECT FILE WINDOW | consume|pull URL STREAM CONSUMER COUNT BATCH\n", argv[0]);
        return 2;
    }
    natsConnection *nc = NULL;
    check(natsConnection_ConnectTo(&nc, argv[2]), "connect");
    int rc = 2;
    if (strcmp(argv[1], "publish") == 0 && argc == 7) rc = publish(nc, argv[3], argv[4], argv[5], atoi(argv[6]));
    if (strcmp(argv[1], "consume") == 0 && argc == 7) rc = consume(nc, argv[3], argv[4], atol(argv[5]), atoi(argv[6]));
    if (strcmp(argv[1], "pull") == 0 && argc == 7) rc = pull(nc, argv[3], argv[4], atol(argv[5]), atoi(argv[6]));
    natsConnection_Destroy(nc);
    return rc;
}
