/* The pcap writer: file header, records, snap length, buffering across flushes, errors. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util/pcap.h"

static char path[128];

static uint8_t *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static void test_header_and_records(void)
{
    et_pcap p;
    CHECK_NULL_ERR(et_pcap_open(&p, path));
    uint8_t f1[60], f2[1514];
    for (uint32_t i = 0; i < sizeof(f1); i++) f1[i] = (uint8_t)i;
    for (uint32_t i = 0; i < sizeof(f2); i++) f2[i] = (uint8_t)(i * 3);
    et_pcap_write(&p, 5, f1, sizeof(f1));
    et_pcap_write(&p, 3000000001234567890ull, f2, sizeof(f2));
    et_pcap_write(&p, 999999999, f1, 0);
    CHECK_EQ(p.frames, 3);
    et_pcap_close(&p);
    et_pcap_close(&p); /* twice is harmless */

    size_t n = 0;
    uint8_t *b = slurp(path, &n);
    REQUIRE(b);
    REQUIRE(n == 24 + 16 + 60 + 16 + 1514 + 16);
    CHECK_EQ(rd32(b), 0xa1b23c4du); /* nanosecond timestamps, native order */
    CHECK_EQ(rd16(b + 4), 2);
    CHECK_EQ(rd16(b + 6), 4);
    CHECK_EQ(rd32(b + 8), 0);
    CHECK_EQ(rd32(b + 16), 65535);
    CHECK_EQ(rd32(b + 20), 1); /* LINKTYPE_ETHERNET */
    const uint8_t *r = b + 24;
    CHECK_EQ(rd32(r), 0);
    CHECK_EQ(rd32(r + 4), 5);
    CHECK_EQ(rd32(r + 8), 60);
    CHECK_EQ(rd32(r + 12), 60);
    CHECK(memcmp(r + 16, f1, 60) == 0);
    r += 16 + 60;
    CHECK_EQ(rd32(r), 3000000001u);
    CHECK_EQ(rd32(r + 4), 234567890u);
    CHECK_EQ(rd32(r + 8), 1514);
    CHECK(memcmp(r + 16, f2, 1514) == 0);
    r += 16 + 1514;
    CHECK_EQ(rd32(r), 0);
    CHECK_EQ(rd32(r + 4), 999999999u);
    CHECK_EQ(rd32(r + 8), 0);
    free(b);
}

/* Many frames: the buffer goes to the file when full and the records stay whole and in order. */
static void test_many_frames_and_snaplen(void)
{
    et_pcap p;
    CHECK_NULL_ERR(et_pcap_open(&p, path));
    static uint8_t f[70000];
    for (uint32_t i = 0; i < sizeof(f); i++) f[i] = (uint8_t)(i ^ (i >> 8));
    uint32_t count = 1000;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len = 60 + (i * 97) % 1455;
        f[0] = (uint8_t)i;
        et_pcap_write(&p, i * 1000ull, f, len);
        if (i % 300 == 0) et_pcap_flush(&p);
    }
    et_pcap_write(&p, 7, f, sizeof(f)); /* longer than the snap length */
    et_pcap_close(&p);
    size_t n = 0;
    uint8_t *b = slurp(path, &n);
    REQUIRE(b);
    size_t off = 24;
    for (uint32_t i = 0; i < count; i++) {
        REQUIRE(off + 16 <= n);
        uint32_t len = 60 + (i * 97) % 1455;
        CHECK_EQ(rd32(b + off + 4), i * 1000u);
        CHECK_EQ(rd32(b + off + 8), len);
        CHECK_EQ(rd32(b + off + 12), len);
        CHECK_EQ(b[off + 16], (uint8_t)i);
        CHECK(memcmp(b + off + 17, f + 1, len - 1) == 0);
        off += 16 + len;
    }
    REQUIRE(off + 16 + 65535 == n);
    CHECK_EQ(rd32(b + off + 8), 65535);
    CHECK_EQ(rd32(b + off + 12), sizeof(f));
    free(b);
}

static void test_errors(void)
{
    et_pcap p;
    CHECK(et_pcap_open(&p, "/nonexistent-dir-efvitcp/x.pcap") != NULL);
    CHECK(p.buf == NULL && p.fd < 0);
    et_pcap_write(&p, 1, (const uint8_t *)"x", 1); /* a writer that failed to open ignores it */
    et_pcap_close(&p);
    CHECK(et_pcap_open(&p, "") != NULL);
    CHECK(et_pcap_open(&p, NULL) != NULL);
    /* a file that cannot take the bytes: later writes are dropped, not retried for ever */
    if (access("/dev/full", W_OK) == 0) {
        CHECK(et_pcap_open(&p, "/dev/full") != NULL);
    }
}

/* A file that cannot grow (a size limit here, a full disk in life): the capture stops, and the
   file is cut back to its last whole record, which a reader takes. In a child, which the limit
   and its ignored SIGXFSZ stay with. */
static void test_write_failure_leaves_whole_records(void)
{
    snprintf(path, sizeof(path), "/tmp/efvitcp-pcap-full-%d.pcap", (int)getpid());
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {24 + 10 * 116 + 50, 24 + 10 * 116 + 50};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(2);
        et_pcap p;
        if (et_pcap_open(&p, path)) _exit(3);
        uint8_t frame[100];
        memset(frame, 0xab, sizeof(frame));
        for (int i = 0; i < 100; i++) {
            et_pcap_write(&p, (uint64_t)i, frame, sizeof(frame));
            if (i % 7 == 6) et_pcap_flush(&p);
        }
        bool failed = p.failed;
        uint64_t size = p.size;
        et_pcap_close(&p);
        _exit(failed && size == 24 + 7 * 116 ? 0 : 4);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    size_t len = 0;
    uint8_t *b = slurp(path, &len);
    REQUIRE(b != NULL);
    CHECK_EQ(len, 24 + 7 * 116); /* the first flush's seven records; the second's cut away */
    for (size_t off = 24; off + 16 <= len; off += 116) CHECK_EQ(rd32(b + off + 8), 100);
    free(b);
    unlink(path);
}

int main(void)
{
    snprintf(path, sizeof(path), "/tmp/efvitcp-test-pcap-%d.pcap", (int)getpid());
    RUN(test_header_and_records);
    RUN(test_many_frames_and_snaplen);
    RUN(test_errors);
    RUN(test_write_failure_leaves_whole_records);
    unlink(path);
    return th_summary();
}
