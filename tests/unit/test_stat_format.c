/*
 * The live view's region (tcp/stat_format.h, util/stat_region.h, util/seqlock.h): the layout
 * that efvitcp-stat reads, the file names, the reclaim of a dead process's regions, and the
 * reader's handling of a copy that overlaps a write (retried, never shown torn).
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tcp/stat_format.h"
#include "util/stat_region.h"

/* The offsets of format 1: a change here must bump ET_STAT_VERSION (readers of the old format
   would misread the new one). */
static void test_layout_v1(void)
{
    CHECK_EQ(sizeof(et_stat_conn), 112);
    CHECK_EQ(offsetof(et_stat_conn, local_port), 16);
    CHECK_EQ(offsetof(et_stat_conn, srtt_us), 20);
    CHECK_EQ(offsetof(et_stat_conn, unread), 64);
    CHECK_EQ(offsetof(et_stat_conn, segs_in), 72);
    CHECK_EQ(offsetof(et_stat_hdr, magic), 0);
    CHECK_EQ(offsetof(et_stat_hdr, pid), 32);
    CHECK_EQ(offsetof(et_stat_hdr, link), 64);
    CHECK_EQ(offsetof(et_stat_hdr, kind), 128);
    CHECK_EQ(offsetof(et_stat_hdr, seq), 144);
    CHECK_EQ(offsetof(et_stat_hdr, n_conns), 168);
    CHECK_EQ(offsetof(et_stat_hdr, ports), 192);
    CHECK_EQ(offsetof(et_stat_hdr, stats), 320);
    CHECK_EQ(sizeof(et_stat_hdr) % 8, 0); /* the rows that follow are 8-aligned */
    CHECK_EQ(et_stat_region_size(3), sizeof(et_stat_hdr) + 3 * sizeof(et_stat_conn));
    CHECK_EQ(ET_STAT_MAGIC & 0xff, 'E'); /* "EFVSTAT1" as the file's first bytes */
}

static void test_names(void)
{
    int pid;
    uint32_t n;
    CHECK(et_stat_region_parse_name("efvitcp-stat-1234-0", &pid, &n));
    CHECK_EQ(pid, 1234);
    CHECK_EQ(n, 0);
    CHECK(et_stat_region_parse_name("efvitcp-stat-7-42", &pid, &n));
    CHECK_EQ(n, 42);
    CHECK(!et_stat_region_parse_name("efvitcp-stat-7", &pid, &n));
    CHECK(!et_stat_region_parse_name("efvitcp-stat-7-", &pid, &n));
    CHECK(!et_stat_region_parse_name("efvitcp-stat-x-1", &pid, &n));
    CHECK(!et_stat_region_parse_name("efvitcp-stat-0-1", &pid, &n));
    CHECK(!et_stat_region_parse_name("efvitcp-stat-7-1x", &pid, &n));
    CHECK(!et_stat_region_parse_name("efvitcp-a", &pid, &n)); /* a shm link's object */
}

/* A region in plain memory, valid for the reader, with rows rows. */
static et_stat_hdr *fake_region(uint32_t rows)
{
    size_t size = (size_t)et_stat_region_size(rows);
    et_stat_hdr *h = aligned_alloc(64, (size + 63) & ~(size_t)63);
    memset(h, 0, size);
    h->version = ET_STAT_VERSION;
    h->hdr_size = sizeof(et_stat_hdr);
    h->conn_size = sizeof(et_stat_conn);
    h->max_rows = rows;
    h->region_size = size;
    h->stats_size = sizeof(efvitcp_stats);
    atomic_store(&h->magic, ET_STAT_MAGIC);
    return h;
}

/* One publish as stat_pub.c does it: every field of the update carries v. */
static void write_all(et_stat_hdr *h, uint64_t v)
{
    et_seq_write_begin(&h->seq);
    h->publishes = v;
    h->stats.frames_in = v;
    h->stats.bytes_out = v;
    h->n_rows = (uint32_t)(v % (h->max_rows + 1));
    h->n_conns = h->n_rows;
    for (uint32_t i = 0; i < h->n_rows; i++) {
        et_stat_conn *r = &et_stat_rows(h)[i];
        r->bytes_in = v;
        r->segs_out = v;
        r->cwnd = (uint32_t)v;
    }
    et_seq_write_end(&h->seq);
}

static bool consistent(const et_stat_hdr *h, const et_stat_conn *rows)
{
    uint64_t v = h->publishes;
    if (h->stats.frames_in != v || h->stats.bytes_out != v || h->n_conns != h->n_rows) return false;
    for (uint32_t i = 0; i < h->n_rows; i++)
        if (rows[i].bytes_in != v || rows[i].segs_out != v || rows[i].cwnd != (uint32_t)v)
            return false;
    return true;
}

static void test_reader_validates(void)
{
    et_stat_hdr *h = fake_region(2);
    et_stat_hdr copy;
    et_stat_conn rows[2];
    size_t len = (size_t)et_stat_region_size(2);
    write_all(h, 2);
    CHECK_EQ(et_stat_snapshot(h, len, &copy, rows, 2, 1, NULL, NULL), 1);
    CHECK(consistent(&copy, rows));
    CHECK_EQ(copy.n_rows, 2);
    /* Shorter than it claims, wrong version, wrong magic: not this format. */
    CHECK_EQ(et_stat_snapshot(h, len - 1, &copy, rows, 2, 1, NULL, NULL), -1);
    h->version = 99;
    CHECK_EQ(et_stat_snapshot(h, len, &copy, rows, 2, 1, NULL, NULL), -1);
    h->version = ET_STAT_VERSION;
    atomic_store(&h->magic, 0);
    CHECK_EQ(et_stat_snapshot(h, len, &copy, rows, 2, 1, NULL, NULL), -1);
    atomic_store(&h->magic, ET_STAT_MAGIC);
    /* Room for fewer rows than published: the copy stops there. */
    CHECK_EQ(et_stat_snapshot(h, len, &copy, rows, 1, 1, NULL, NULL), 1);
    CHECK_EQ(copy.n_rows, 1);
    /* A region written by anyone (the files are world-readable, their names guessable): counts
       and strings the tool reads by are bounded in the copy, whatever the file says; rows by
       what the mapping holds, not by a max_rows its owner may rewrite after validation. */
    h->n_ports = 0xffffffffu;
    memset(h->link, 'x', sizeof(h->link));
    memset(h->kind, 'y', sizeof(h->kind));
    h->n_rows = 1000;
    CHECK_EQ(et_stat_snapshot(h, len, &copy, rows, 2, 1, NULL, NULL), 1);
    CHECK_EQ(copy.n_ports, ET_STAT_MAX_PORTS);
    CHECK_EQ(strlen(copy.link), sizeof(copy.link) - 1);
    CHECK_EQ(strlen(copy.kind), sizeof(copy.kind) - 1);
    CHECK_EQ(copy.n_rows, 2);
    free(h);
}

static void test_torn_busy(void)
{
    et_stat_hdr *h = fake_region(1);
    et_stat_hdr copy;
    et_stat_conn rows[1];
    write_all(h, 1);
    et_seq_write_begin(&h->seq);
    h->stats.frames_in = 777; /* half an update */
    CHECK_EQ(et_stat_snapshot(h, (size_t)et_stat_region_size(1), &copy, rows, 1, 5, NULL, NULL), 0);
    et_seq_write_end(&h->seq);
    CHECK_EQ(et_stat_snapshot(h, (size_t)et_stat_region_size(1), &copy, rows, 1, 5, NULL, NULL), 1);
    CHECK_EQ(copy.stats.frames_in, 777);
    free(h);
}

/* A write that starts and ends while the reader copies: the first copy is torn (old header, rows
   of any age) and thrown away; the second is the new state. */
struct midwrite {
    et_stat_hdr *h;
    int calls;
};
static void write_during_copy(void *arg)
{
    struct midwrite *m = arg;
    if (m->calls++ == 0) write_all(m->h, 5);
}

static void test_torn_retry(void)
{
    et_stat_hdr *h = fake_region(4);
    et_stat_hdr copy;
    et_stat_conn rows[4];
    write_all(h, 3);
    struct midwrite m = {h, 0};
    int tries = et_stat_snapshot(h, (size_t)et_stat_region_size(4), &copy, rows, 4, 10,
                                 write_during_copy, &m);
    CHECK_EQ(tries, 2);
    CHECK_EQ(copy.publishes, 5);
    CHECK(consistent(&copy, rows));
    free(h);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Another process writes as fast as it can while this one reads for 200 ms: every copy the
   reader keeps is one whole publish, and the publishes it sees never go back. */
static void test_concurrent_writer(void)
{
    const uint32_t rows_max = 8;
    size_t size = (size_t)et_stat_region_size(rows_max);
    /* The region, then the flag that stops the writer. */
    et_stat_hdr *h =
        mmap(NULL, size + 64, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(h != MAP_FAILED);
    _Atomic int *stop = (_Atomic int *)((char *)h + size);
    et_stat_hdr *init = fake_region(rows_max);
    memcpy(h, init, size);
    free(init);
    write_all(h, 1);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        for (uint64_t v = 2; !atomic_load(stop); v++) write_all(h, v);
        _exit(0);
    }
    et_stat_hdr copy;
    et_stat_conn rows[8];
    unsigned kept = 0, bad = 0, retried = 0;
    uint64_t last = 0;
    /* 200 ms, and on until a copy shows the writer's work: on a loaded machine the writer may
       not have run yet, or every copy so far met a write, in 200 ms of wall time. The cap is for
       a writer that never runs. */
    uint64_t end = mono_ms() + 200, cap = mono_ms() + 20000;
    while (mono_ms() < end || ((kept == 0 || last <= 1) && mono_ms() < cap)) {
        int t = et_stat_snapshot(h, size, &copy, rows, rows_max, 1000, NULL, NULL);
        if (t <= 0) continue;
        kept++;
        retried += t > 1;
        if (!consistent(&copy, rows) || copy.publishes < last) bad++;
        last = copy.publishes;
    }
    atomic_store(stop, 1);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(kept > 0);
    CHECK(last > 1); /* the writer ran */
    CHECK_EQ(bad, 0);
    printf("  %u copies kept, %u of them after a retry, %llu publishes seen\n", kept, retried,
           (unsigned long long)last);
    munmap(h, size + 64);
}

static char *temp_dir(void)
{
    static char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/efvitcp-stat-test-XXXXXX");
    return mkdtemp(dir);
}

static int dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return pid; /* reaped: kill(pid, 0) fails with ESRCH until the pid is reused */
}

static void touch(const char *dir, const char *name, uint64_t head, bool empty)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!empty) CHECK(write(fd, &head, sizeof(head)) == (ssize_t)sizeof(head));
    close(fd);
}

static bool exists(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void test_create_and_reclaim(void)
{
    char *dir = temp_dir();
    REQUIRE(dir);
    void *m0, *m1;
    char p0[ET_STAT_PATH_MAX], p1[ET_STAT_PATH_MAX];
    uint32_t n0, n1;
    CHECK_NULL_ERR(et_stat_region_create(dir, getpid(), 4096, &m0, p0, &n0));
    CHECK_NULL_ERR(et_stat_region_create(dir, getpid(), 4096, &m1, p1, &n1));
    CHECK_EQ(n0, 0);
    CHECK_EQ(n1, 1); /* O_EXCL: the next number */
    struct stat sb;
    CHECK(stat(p0, &sb) == 0 && sb.st_size == 4096 && (sb.st_mode & 0777) == 0644);
    size_t len;
    const void *ro = et_stat_region_map_ro(p1, 8, &len);
    CHECK(ro && len == 4096);
    CHECK(et_stat_region_map_ro(p1, 8192, &len) == NULL); /* shorter than a header: skipped */
    if (ro) munmap((void *)ro, len);

    int dead = dead_pid();
    char a[64], b[64], c[64], d[64];
    snprintf(a, sizeof(a), "efvitcp-stat-%d-0", dead);          /* dead, a region: removed */
    snprintf(b, sizeof(b), "efvitcp-stat-%d-1", dead);          /* dead, empty: removed */
    snprintf(c, sizeof(c), "efvitcp-stat-%d-2", dead);          /* dead, not a region: kept */
    snprintf(d, sizeof(d), "efvitcp-stat-%d-5", (int)getpid()); /* alive: kept */
    touch(dir, a, ET_STAT_MAGIC, false);
    touch(dir, b, 0, true);
    touch(dir, c, 12345, false);
    touch(dir, d, ET_STAT_MAGIC, false);
    touch(dir, "efvitcp-other", ET_STAT_MAGIC, false);
    CHECK_EQ(et_stat_region_reclaim(dir, ET_STAT_MAGIC), 2);
    CHECK(!exists(dir, a));
    CHECK(!exists(dir, b));
    CHECK(exists(dir, c));
    CHECK(exists(dir, d));
    CHECK(exists(dir, "efvitcp-other"));
    CHECK(exists(dir, p0 + strlen(dir) + 1));

    et_stat_region_destroy(m0, 4096, p0);
    et_stat_region_destroy(m1, 4096, p1);
    CHECK(access(p0, F_OK) != 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    RUN(test_layout_v1);
    RUN(test_names);
    RUN(test_reader_validates);
    RUN(test_torn_busy);
    RUN(test_torn_retry);
    RUN(test_concurrent_writer);
    RUN(test_create_and_reclaim);
    return th_summary();
}
