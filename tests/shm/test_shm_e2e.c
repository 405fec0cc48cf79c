/*
 * Two efvitcp instances in two processes over the shm link: a child runs an echo server, the
 * parent a client that does a few hundred echo round trips of assorted sizes, then streams
 * 10 MB, which come back: 10 MB each way, every byte checked at the server and again at the
 * client against a position-dependent pattern. The client closes, the server answers with its
 * FIN, and both must see on_closed; the shared object must be gone afterwards.
 *
 * Run twice: with the server's process creating the object and with the client's. The processes
 * synchronise with blocking pipe reads (no sleeps); alarm() bounds every process.
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "efvitcp/efvitcp.h"
#include "harness.h"

#define SRV_IP    "198.18.0.1"
#define CLI_IP    "198.18.0.2"
#define PORT      5001
#define BULK      (10u * 1024u * 1024u)
#define ECHOES    300u
#define TIMEOUT_S 60u
#define CHUNK     65536u

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Byte off of the client's stream: a hash of the 8-byte word index, so that a byte misplaced by
   any distance is caught. */
static uint8_t pat_byte(uint64_t off)
{
    return (uint8_t)(mix64((off >> 3) ^ 0x5bd1e9955bd1e995ull) >> (8 * (off & 7)));
}

static void pattern(uint64_t off, uint8_t *out, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) out[i] = pat_byte(off + i);
}

static bool matches(uint64_t off, const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i] != pat_byte(off + i)) return false;
    return true;
}

static uint32_t echo_size(uint32_t i)
{
    return 1 + (i * 613u) % 3000u; /* 1 byte up to two segments */
}

static uint64_t echo_total(void)
{
    uint64_t t = 0;
    for (uint32_t i = 0; i < ECHOES; i++) t += echo_size(i);
    return t;
}

static void config(efvitcp_config *cfg, const char *addr)
{
    efvitcp_config_default(cfg);
    cfg->local_addr = addr;
    cfg->max_conns = 4;
    cfg->recv_buf_size = 256 * 1024;
    cfg->time_wait_ms = 0;
    cfg->seed = 42;
}

/* ------------------------------------------------------------------------------------------ */
/* Server (child)                                                                             */
/* ------------------------------------------------------------------------------------------ */

typedef struct server {
    uint64_t consumed; /* stream bytes echoed */
    uint64_t verified; /* stream bytes checked */
    bool closed;
    const char *error;
} server;

/* Checks the bytes of data beyond what was checked already: data starts at stream offset
   consumed (the unconsumed bytes come again in front). */
static void srv_check(server *s, const uint8_t *data, uint32_t len)
{
    uint64_t seen = s->verified - s->consumed;
    if (seen >= len) return;
    if (!matches(s->verified, data + seen, (uint32_t)(len - seen))) s->error = "server: bad bytes";
    s->verified = s->consumed + len;
}

static uint32_t srv_on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    server *s = ctx;
    srv_check(s, data, len);
    uint32_t k = efvitcp_send(c, data, len, false);
    s->consumed += k;
    return len - k; /* the rest waits in the receive buffer: backpressure */
}

static void srv_on_more_sendable(void *ctx, efvitcp_conn *c)
{
    server *s = ctx;
    const uint8_t *d;
    uint32_t n = efvitcp_unread(c, &d);
    if (!n) return;
    uint32_t k = efvitcp_send(c, d, n, false);
    efvitcp_consume(c, k);
    s->consumed += k;
}

static void srv_on_fin(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    server *s = ctx;
    if (len) s->error = "server: FIN with unechoed data";
    const char *err = efvitcp_send_fin(c);
    if (err) s->error = err;
}

static void srv_on_closed(void *ctx, efvitcp_conn *c)
{
    ((server *)ctx)->closed = true;
}

static void srv_on_fail(void *ctx, efvitcp_conn *c)
{
    ((server *)ctx)->error = "server: connection reset or timed out";
}

static const efvitcp_handler srv_handler = {
    .on_data = srv_on_data,
    .on_more_sendable = srv_on_more_sendable,
    .on_fin = srv_on_fin,
    .on_closed = srv_on_closed,
    .on_reset = srv_on_fail,
    .on_timeout = srv_on_fail,
};

static int wait_byte(int fd)
{
    char b;
    return read(fd, &b, 1) == 1 ? 0 : -1;
}

static int send_byte(int fd)
{
    return write(fd, "x", 1) == 1 ? 0 : -1;
}

/* Exit codes tell the parent what went wrong. */
static int server_main(const char *iface, int rd, int wr, bool client_first)
{
    alarm(TIMEOUT_S);
    if (client_first && wait_byte(rd)) return 10;
    efvitcp_config cfg;
    config(&cfg, SRV_IP "/24");
    efvitcp_server *srv;
    const char *err = efvitcp_server_init(&srv, iface, &cfg);
    if (!err) err = efvitcp_server_listen(srv, PORT);
    if (err) {
        fprintf(stderr, "server: %s\n", err);
        return 11;
    }
    if (send_byte(wr)) return 12; /* listening */
    server s = {0};
    while (!s.closed && !s.error) efvitcp_server_poll(srv, &srv_handler, &s);
    efvitcp_stats st;
    efvitcp_server_stats(srv, &st);
    efvitcp_server_close(srv);
    if (s.error) {
        fprintf(stderr, "%s\n", s.error);
        return 13;
    }
    if (s.verified != echo_total() + BULK || s.consumed != s.verified) return 14;
    if (st.bytes_in != s.verified) return 15;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Client (parent)                                                                            */
/* ------------------------------------------------------------------------------------------ */

typedef struct client {
    bool established, closed;
    uint64_t received; /* echoed bytes, all checked */
    const char *error;
} client;

static void cli_on_established(void *ctx, efvitcp_conn *c)
{
    ((client *)ctx)->established = true;
}

static uint32_t cli_on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    client *k = ctx;
    if (!matches(k->received, data, len)) k->error = "client: bad echo";
    k->received += len;
    return 0;
}

static void cli_on_closed(void *ctx, efvitcp_conn *c)
{
    ((client *)ctx)->closed = true;
}

static void cli_on_fin(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    if (len) ((client *)ctx)->error = "client: FIN with data";
}

static void cli_on_fail(void *ctx, efvitcp_conn *c)
{
    ((client *)ctx)->error = "client: connection refused, reset or timed out";
}

static const efvitcp_handler cli_handler = {
    .on_connection_refused = cli_on_fail,
    .on_established = cli_on_established,
    .on_data = cli_on_data,
    .on_fin = cli_on_fin,
    .on_closed = cli_on_closed,
    .on_reset = cli_on_fail,
    .on_timeout = cli_on_fail,
};

static void run_pair(bool client_first)
{
    char name[64], iface[80], path[96];
    snprintf(name, sizeof(name), "e2e-%d-%d", (int)getpid(), client_first);
    snprintf(iface, sizeof(iface), "shm:%s", name);
    snprintf(path, sizeof(path), "/dev/shm/efvitcp-%s", name);
    unlink(path);

    int to_srv[2], to_cli[2];
    REQUIRE(pipe(to_srv) == 0 && pipe(to_cli) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed parent */
        close(to_srv[1]);
        close(to_cli[0]);
        _exit(server_main(iface, to_srv[0], to_cli[1], client_first));
    }
    close(to_srv[0]);
    close(to_cli[1]);

    efvitcp_config cfg;
    config(&cfg, CLI_IP "/24");
    efvitcp_client *cli = NULL;
    const char *err = NULL;
    if (client_first) {
        err = efvitcp_client_init(&cli, iface, &cfg);
        CHECK_NULL_ERR(err);
        CHECK(send_byte(to_srv[1]) == 0);
    }
    CHECK(wait_byte(to_cli[0]) == 0); /* the server listens */
    if (!client_first) {
        err = efvitcp_client_init(&cli, iface, &cfg);
        CHECK_NULL_ERR(err);
    }
    efvitcp_conn *conn = NULL;
    if (cli) {
        err = efvitcp_client_connect(cli, SRV_IP, PORT, 0, &conn);
        CHECK_NULL_ERR(err);
    }
    client k = {0};
    if (cli && conn) {
        while (!k.established && !k.error) efvitcp_client_poll(cli, &cli_handler, &k);
        CHECK(k.established);

        /* Echo round trips: each message must come back whole before the next. */
        static uint8_t buf[CHUNK];
        uint64_t off = 0;
        for (uint32_t i = 0; i < ECHOES && !k.error; i++) {
            uint32_t n = echo_size(i);
            pattern(off, buf, n);
            CHECK_EQ(efvitcp_send(conn, buf, n, false), n);
            off += n;
            while (k.received < off && !k.error) efvitcp_client_poll(cli, &cli_handler, &k);
        }
        CHECK_EQ(k.received, echo_total());

        /* Bulk: send as fast as the ring takes it, while the echo streams back. */
        uint64_t end = off + BULK;
        while (k.received < end && !k.error) {
            if (off < end) {
                uint32_t want = end - off < CHUNK ? (uint32_t)(end - off) : CHUNK;
                uint32_t room = efvitcp_sendable(conn);
                if (want > room) want = room;
                if (want) {
                    pattern(off, buf, want);
                    off += efvitcp_send(conn, buf, want, false);
                }
            }
            efvitcp_client_poll(cli, &cli_handler, &k);
        }
        CHECK_EQ(k.received, echo_total() + BULK);
        CHECK_NULL_ERR(efvitcp_send_fin(conn));
        while (!k.closed && !k.error) efvitcp_client_poll(cli, &cli_handler, &k);
        CHECK(k.closed);
        if (k.error) fprintf(stderr, "%s\n", k.error);
        CHECK(!k.error);
        efvitcp_stats st;
        efvitcp_client_stats(cli, &st);
        CHECK_EQ(st.bytes_in, echo_total() + BULK);
    }
    if (cli) efvitcp_client_close(cli);
    if (th_failures) kill(pid, SIGKILL);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK(access(path, F_OK) != 0); /* the last one out removed it */
    close(to_srv[1]);
    close(to_cli[0]);
}

static void test_server_creates(void)
{
    run_pair(false);
}

static void test_client_creates(void)
{
    run_pair(true);
}

int main(void)
{
    alarm(2 * TIMEOUT_S); /* SIGALRM's default action ends the test with a failure */
    RUN(test_server_creates);
    RUN(test_client_creates);
    return th_summary();
}
