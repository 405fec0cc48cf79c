/*
 * efvitcp-stat on live instances: a server and a client with connections over the mem wire,
 * read by the real tool in another process (--json), every figure checked against the API's
 * (efvitcp_*_stats, efvitcp_conn_get_stats, efvitcp_unread); the tool run again and again
 * while the instances poll and publish (every copy whole); a server process over the shm link
 * that keeps polling while the tool reads it; an update held open while the tool reads (shown
 * busy, never half-written); the region of a process that died without closing,
 * removed by the tool and by the next init; close and cfg.stat_shm = false.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/instance.h"
#include "harness.h"
#include "sim.h"
#include "tcp/stat_format.h"

#define SPORT_A 5000
#define SPORT_B 6000
#define KEEP    100 /* bytes the server leaves unconsumed: held and unread are not zero */

/* Runs the tool with args; its output goes to out (NUL-terminated). Returns its exit status. */
static int run_tool(const char *args, char *out, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s %s", EFVITCP_STAT_TOOL, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The value after "key": in [from, to), as a number; UINT64_MAX when absent. */
static uint64_t jnum(const char *from, const char *to, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(from, pat);
    if (!p || p >= to) return UINT64_MAX;
    return strtoull(p + strlen(pat), NULL, 10);
}

/* Whether "key":"value" occurs in [from, to). */
static bool jstr_is(const char *from, const char *to, const char *key, const char *value)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\":\"%s\"", key, value);
    const char *p = strstr(from, pat);
    return p && p < to;
}

/* The instance object of the region at path: [*from, *to). */
static bool find_instance(const char *json, const char *path, const char **from, const char **to)
{
    char pat[256];
    snprintf(pat, sizeof(pat), "\"path\":\"%s\"", path);
    const char *p = strstr(json, pat);
    if (!p) return false;
    const char *end = strstr(p, "\n{\"pid\""); /* the next instance */
    *from = p;
    *to = end ? end : json + strlen(json);
    return true;
}

/* The row of connection id within an instance: [*from, *to). */
static bool find_conn(const char *inst, const char *inst_end, uint32_t id, const char **from,
                      const char **to)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "{\"id\":%u,", id);
    const char *p = strstr(inst, pat);
    if (!p || p >= inst_end) return false;
    *from = p;
    *to = strchr(p, '}');
    return *to != NULL;
}

/* The JSON parses, when python3 is there to say so. */
static void check_json_valid(const char *json)
{
    if (system("command -v python3 >/dev/null 2>&1") != 0) return;
    FILE *p = popen("python3 -c 'import json,sys; json.load(sys.stdin)'", "w");
    REQUIRE(p);
    fputs(json, p);
    CHECK_EQ(pclose(p), 0);
}

/* --- the live instances --------------------------------------------------------------------- */

static uint32_t srv_on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    return n < KEEP ? n : KEEP;
}
static void srv_on_est(void *ctx, efvitcp_conn *c)
{
    static uint8_t reply[1000];
    efvitcp_send(c, reply, sizeof(reply), false);
}
static uint32_t cli_on_data(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    return 0;
}

typedef struct conn_list {
    efvitcp_conn *v[8];
    int n;
} conn_list;
static void collect(void *arg, efvitcp_conn *c)
{
    conn_list *l = arg;
    if (l->n < 8) l->v[l->n++] = c;
}

/* Every published figure of connection c equals what the API says now. */
static void check_conn(const char *inst, const char *inst_end, efvitcp_conn *c)
{
    const char *f, *t;
    REQUIRE(find_conn(inst, inst_end, efvitcp_conn_id(c), &f, &t));
    efvitcp_conn_stats cs;
    efvitcp_conn_get_stats(c, &cs);
    const uint8_t *data;
    struct sockaddr_in peer;
    efvitcp_peername(c, &peer);
    CHECK(jstr_is(f, t, "state", efvitcp_state_name(cs.state)));
    CHECK(jstr_is(f, t, "remote_ip", SIM_CLIENT_IP) || jstr_is(f, t, "remote_ip", SIM_SERVER_IP));
    CHECK_EQ(jnum(f, t, "local_port"), efvitcp_local_port(c));
    CHECK_EQ(jnum(f, t, "remote_port"), ntohs(peer.sin_port));
    CHECK_EQ(jnum(f, t, "srtt_us"), cs.srtt_us);
    CHECK_EQ(jnum(f, t, "rttvar_us"), cs.rttvar_us);
    CHECK_EQ(jnum(f, t, "rto_us"), cs.rto_us);
    CHECK_EQ(jnum(f, t, "cwnd"), cs.cwnd);
    CHECK_EQ(jnum(f, t, "ssthresh"), cs.ssthresh);
    CHECK_EQ(jnum(f, t, "snd_wnd"), cs.snd_wnd);
    CHECK_EQ(jnum(f, t, "rcv_wnd"), cs.rcv_wnd);
    CHECK_EQ(jnum(f, t, "mss"), cs.mss);
    CHECK_EQ(jnum(f, t, "unacked"), cs.unacked);
    CHECK_EQ(jnum(f, t, "queued"), cs.queued);
    CHECK_EQ(jnum(f, t, "recv_held"), cs.recv_held);
    CHECK_EQ(jnum(f, t, "unread"), efvitcp_unread(c, &data));
    CHECK_EQ(jnum(f, t, "segs_in"), cs.segs_in);
    CHECK_EQ(jnum(f, t, "segs_out"), cs.segs_out);
    CHECK_EQ(jnum(f, t, "bytes_in"), cs.bytes_in);
    CHECK_EQ(jnum(f, t, "bytes_out"), cs.bytes_out);
    CHECK_EQ(jnum(f, t, "retransmits"), cs.retransmits);
}

static void check_instance_counters(const char *f, const char *t, const efvitcp_stats *st)
{
    CHECK_EQ(jnum(f, t, "frames_in"), st->frames_in);
    CHECK_EQ(jnum(f, t, "frames_out"), st->frames_out);
    CHECK_EQ(jnum(f, t, "segs_in"), st->segs_in);
    CHECK_EQ(jnum(f, t, "segs_out"), st->segs_out);
    CHECK_EQ(jnum(f, t, "bytes_in"), st->bytes_in);
    CHECK_EQ(jnum(f, t, "bytes_out"), st->bytes_out);
    CHECK_EQ(jnum(f, t, "conns_accepted"), st->conns_accepted);
    CHECK_EQ(jnum(f, t, "conns_opened"), st->conns_opened);
    CHECK_EQ(jnum(f, t, "conns_active"), st->conns_active);
    CHECK_EQ(jnum(f, t, "no_conn"), st->drops[EFVITCP_DROP_NO_CONN]);
}

/* Server on two ports, three client connections, data both ways; the server keeps KEEP bytes of
   each unread. Then one publish, and the tool's view must equal the API's. */
static void test_live_view(void)
{
    sim s;
    efvitcp_config scfg, ccfg;
    sim_default_config(&scfg, 1);
    sim_default_config(&ccfg, 2);
    REQUIRE(!sim_init(&s, NULL, &scfg, &ccfg, SPORT_A));
    CHECK_NULL_ERR(efvitcp_server_listen(s.srv, SPORT_B));
    s.sh.on_data = srv_on_data;
    s.sh.on_established = srv_on_est;
    s.ch.on_data = cli_on_data;
    efvitcp_conn *cc[3];
    CHECK_NULL_ERR(efvitcp_client_connect(s.cli, SIM_SERVER_IP, SPORT_A, 0, &cc[0]));
    CHECK_NULL_ERR(efvitcp_client_connect(s.cli, SIM_SERVER_IP, SPORT_A, 0, &cc[1]));
    CHECK_NULL_ERR(efvitcp_client_connect(s.cli, SIM_SERVER_IP, SPORT_B, 0, &cc[2]));
    /* A segment to a closed port: a drop counted by reason. */
    efvitcp_conn *stray;
    CHECK_NULL_ERR(efvitcp_client_connect(s.cli, SIM_SERVER_IP, 7, 0, &stray));
    sim_run_for(&s, 20000000);
    static uint8_t buf[5000];
    CHECK_EQ(efvitcp_send(cc[0], buf, 5000, false), 5000);
    CHECK_EQ(efvitcp_send(cc[1], buf, 300, false), 300);
    CHECK_EQ(efvitcp_send(cc[2], buf, 50, false), 50);
    sim_run_for(&s, 20000000);
    /* Past the next deadline: the last poll publishes, after its own work. */
    const et_stack *sst = &s.srv->st, *cst = &s.cli->st;
    uint64_t before = sst->stat.hdr->publishes;
    sim_run_for(&s, 101000000);
    CHECK(sst->stat.hdr->publishes > before);
    /* Nothing moves from here on: the instances are not polled while the tool reads. */
    static char out[1 << 16];
    char args[64];
    snprintf(args, sizeof(args), "--json -c -p %d", (int)getpid());
    CHECK_EQ(run_tool(args, out, sizeof(out)), 0);
    check_json_valid(out);

    const char *f, *t;
    REQUIRE(find_instance(out, sst->stat.path, &f, &t));
    CHECK(jstr_is(f, t, "link", "mem:server"));
    CHECK(jstr_is(f, t, "kind", "mem"));
    CHECK(jstr_is(f, t, "address", SIM_SERVER_IP));
    CHECK(strstr(f, "\"ports\":[5000,6000]") && strstr(f, "\"ports\":[5000,6000]") < t);
    CHECK_EQ(jnum(f, t, "connections"), 3);
    CHECK_EQ(jnum(f, t, "listening"), 2);
    efvitcp_stats st;
    efvitcp_server_stats(s.srv, &st);
    CHECK(st.drops[EFVITCP_DROP_NO_CONN] > 0);
    check_instance_counters(f, t, &st);
    conn_list l = {.n = 0};
    efvitcp_server_foreach(s.srv, collect, &l);
    CHECK_EQ(l.n, 3);
    for (int i = 0; i < l.n; i++) check_conn(f, t, l.v[i]);
    /* Held bytes are there to be shown: KEEP on the two that got more, all 50 on the third. */
    int kept = 0, small = 0;
    for (int i = 0; i < l.n; i++) {
        const uint8_t *data;
        uint32_t u = efvitcp_unread(l.v[i], &data);
        kept += u == KEEP;
        small += u == 50;
    }
    CHECK_EQ(kept, 2);
    CHECK_EQ(small, 1);

    REQUIRE(find_instance(out, cst->stat.path, &f, &t));
    CHECK(jstr_is(f, t, "link", "mem:client"));
    CHECK_EQ(jnum(f, t, "connections"), 3); /* the refused one is gone */
    efvitcp_client_stats(s.cli, &st);
    check_instance_counters(f, t, &st);
    for (int i = 0; i < 3; i++) check_conn(f, t, cc[i]);

    /* The tables for a terminal carry the same. */
    snprintf(args, sizeof(args), "-c -p %d", (int)getpid());
    CHECK_EQ(run_tool(args, out, sizeof(out)), 0);
    CHECK(strstr(out, "mem:server") && strstr(out, "mem:client"));
    CHECK(strstr(out, "5000,6000"));
    CHECK(strstr(out, "ESTABLISHED"));
    CHECK(strstr(out, "no_conn="));
    sim_free(&s);
}

/* Sums key over the connection rows of the instance [from, to). */
static uint64_t sum_rows(const char *from, const char *to, const char *key)
{
    uint64_t sum = 0;
    for (const char *p = strstr(from, "{\"id\":"); p && p < to; p = strstr(p + 1, "{\"id\":")) {
        const char *end = strchr(p, '}');
        sum += jnum(p, end, key);
    }
    return sum;
}

static uint32_t sink(void *ctx, efvitcp_conn *c, const uint8_t *d, uint32_t n)
{
    return 0;
}

/* The tool, run over and over by another process while both instances keep polling, sending and
   publishing (every 1 ms of virtual time): every copy it shows is one whole publish. A torn one
   would show it: the instance's bytes_out is the sum of its connections' (none has closed), and
   the two are written at different places of the region. */
static void test_read_while_running(void)
{
    sim s;
    efvitcp_config scfg, ccfg;
    sim_default_config(&scfg, 3);
    sim_default_config(&ccfg, 4);
    scfg.stat_interval_ms = ccfg.stat_interval_ms = 1;
    REQUIRE(!sim_init(&s, NULL, &scfg, &ccfg, SPORT_A));
    s.sh.on_data = sink;
    efvitcp_conn *cc[2];
    for (int i = 0; i < 2; i++)
        CHECK_NULL_ERR(efvitcp_client_connect(s.cli, SIM_SERVER_IP, SPORT_A, 0, &cc[i]));
    sim_run_for(&s, 10000000);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "for i in $(seq 30); do %s --json -c -p %d; done", EFVITCP_STAT_TOOL,
             (int)getpid());
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    int fd = fileno(p);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    static char out[1 << 20];
    size_t len = 0;
    static uint8_t msg[700];
    for (long it = 0; it < 10000000; it++) {
        for (int i = 0; i < 2; i++) efvitcp_send(cc[i], msg, sizeof(msg), false);
        sim_run_for(&s, 1000000);
        ssize_t n = read(fd, out + len, sizeof(out) - 1 - len);
        if (n == 0) break; /* every run of the tool is done */
        if (n > 0) len += (size_t)n;
    }
    out[len] = 0;
    pclose(p);
    int docs = 0, bad = 0;
    uint64_t last = 0;
    for (char *d = strstr(out, "{\"instances\":["); d; d = strstr(d + 1, "{\"instances\":[")) {
        char *next = strstr(d + 1, "{\"instances\":[");
        if (next) next[-1] = 0; /* one document at a time */
        const char *f, *t;
        docs++;
        if (!find_instance(d, s.cli->st.stat.path, &f, &t)) {
            bad++;
        } else {
            uint64_t total = jnum(f, t, "bytes_out"), pubs = jnum(f, t, "publishes");
            bad += total != sum_rows(f, t, "bytes_out") || pubs < last;
            last = pubs;
        }
        if (next) next[-1] = '\n';
    }
    CHECK_EQ(docs, 30);
    CHECK_EQ(bad, 0);
    CHECK(last > 1);
    printf("  %d copies read while running, the last of publish %llu\n", docs,
           (unsigned long long)last);
    efvitcp_stats st;
    efvitcp_client_stats(s.cli, &st);
    CHECK(st.bytes_out > 0);
    sim_free(&s);
}

/* --- two processes over the shm link ----------------------------------------------------- */

#define SHM_PORT 5002

typedef struct shm_row {
    efvitcp_conn_stats cs;
    uint32_t unread;
    uint16_t local_port, remote_port;
} shm_row;

static efvitcp_conn *first_conn;
static void remember(void *arg, efvitcp_conn *c)
{
    first_conn = c;
}

/* The child: a server on the shm link that keeps polling (publishing every 1 ms) until told to
   stop, and on 'S' reports its connection as the API sees it. */
static int shm_server(const char *iface, int rd, int wr)
{
    alarm(30);
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.local_addr = SIM_SERVER_IP "/24";
    cfg.max_conns = 4;
    cfg.stat_interval_ms = 1;
    efvitcp_server *srv;
    if (efvitcp_server_init(&srv, iface, &cfg) || efvitcp_server_listen(srv, SHM_PORT)) return 1;
    efvitcp_handler h = {.on_data = srv_on_data};
    fcntl(rd, F_SETFL, fcntl(rd, F_GETFL) | O_NONBLOCK);
    if (write(wr, "R", 1) != 1) return 1;
    for (;;) {
        efvitcp_server_poll(srv, &h, NULL);
        char cmd;
        ssize_t n = read(rd, &cmd, 1);
        if (n == 0 || (n == 1 && cmd == 'Q')) break;
        if (n == 1 && cmd == 'S') {
            shm_row r;
            memset(&r, 0, sizeof(r));
            first_conn = NULL;
            efvitcp_server_foreach(srv, remember, NULL);
            if (first_conn) {
                const uint8_t *d;
                struct sockaddr_in peer;
                efvitcp_conn_get_stats(first_conn, &r.cs);
                r.unread = efvitcp_unread(first_conn, &d);
                r.local_port = efvitcp_local_port(first_conn);
                efvitcp_peername(first_conn, &peer);
                r.remote_port = ntohs(peer.sin_port);
            }
            if (write(wr, &r, sizeof(r)) != (ssize_t)sizeof(r)) return 1;
        }
    }
    efvitcp_server_close(srv);
    return 0;
}

static void check_row(const char *f, const char *t, const shm_row *r)
{
    CHECK(jstr_is(f, t, "state", efvitcp_state_name(r->cs.state)));
    CHECK_EQ(jnum(f, t, "local_port"), r->local_port);
    CHECK_EQ(jnum(f, t, "remote_port"), r->remote_port);
    CHECK_EQ(jnum(f, t, "srtt_us"), r->cs.srtt_us);
    CHECK_EQ(jnum(f, t, "rto_us"), r->cs.rto_us);
    CHECK_EQ(jnum(f, t, "cwnd"), r->cs.cwnd);
    CHECK_EQ(jnum(f, t, "snd_wnd"), r->cs.snd_wnd);
    CHECK_EQ(jnum(f, t, "rcv_wnd"), r->cs.rcv_wnd);
    CHECK_EQ(jnum(f, t, "unacked"), r->cs.unacked);
    CHECK_EQ(jnum(f, t, "queued"), r->cs.queued);
    CHECK_EQ(jnum(f, t, "recv_held"), r->cs.recv_held);
    CHECK_EQ(jnum(f, t, "unread"), r->unread);
    CHECK_EQ(jnum(f, t, "segs_in"), r->cs.segs_in);
    CHECK_EQ(jnum(f, t, "segs_out"), r->cs.segs_out);
    CHECK_EQ(jnum(f, t, "bytes_in"), r->cs.bytes_in);
    CHECK_EQ(jnum(f, t, "bytes_out"), r->cs.bytes_out);
    CHECK_EQ(jnum(f, t, "retransmits"), r->cs.retransmits);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A server process that keeps polling and a client in this one, over the shm link: the tool
   reads the running server's connection, and the figures equal what its own API reports. */
static void test_shm_two_processes(void)
{
    char iface[64];
    snprintf(iface, sizeof(iface), "shm:stat-%d", (int)getpid());
    int p2c[2], c2p[2];
    REQUIRE(pipe(p2c) == 0 && pipe(c2p) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(p2c[1]), close(c2p[0]);
        _exit(shm_server(iface, p2c[0], c2p[1]));
    }
    close(p2c[0]), close(c2p[1]);
    char ready;
    REQUIRE(read(c2p[0], &ready, 1) == 1);
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.local_addr = SIM_CLIENT_IP "/24";
    cfg.max_conns = 4;
    cfg.stat_interval_ms = 1;
    efvitcp_client *cli;
    REQUIRE(!efvitcp_client_init(&cli, iface, &cfg));
    efvitcp_conn *c;
    CHECK_NULL_ERR(efvitcp_client_connect(cli, SIM_SERVER_IP, SHM_PORT, 0, &c));
    efvitcp_handler h = {.on_data = cli_on_data};
    static uint8_t msg[2000];
    bool sent = false;
    /* Connect, send, and let everything settle: all acknowledged, then 50 ms more (delayed ACKs,
       window updates). Bounded for a loaded machine. The last poll is one that began after the
       50 ms, more than a stat interval after the last change: its publish is the one the tool
       reads (judged after the poll, a process preempted there would stop polling with the
       last change not yet published). */
    uint64_t settled = 0;
    for (uint64_t end = now_ms() + 10000; now_ms() < end;) {
        bool last = settled && now_ms() >= settled;
        efvitcp_client_poll(cli, &h, NULL);
        if (last) break;
        if (!sent && efvitcp_is_established(c)) sent = efvitcp_send(c, msg, sizeof(msg), false);
        efvitcp_conn_stats cs;
        efvitcp_conn_get_stats(c, &cs);
        if (sent && !settled && cs.unacked == 0 && cs.queued == 0) settled = now_ms() + 50;
    }
    CHECK(sent);
    efvitcp_conn_stats mine;
    efvitcp_conn_get_stats(c, &mine);
    CHECK_EQ(mine.unacked, 0);
    CHECK_EQ(write(p2c[1], "S", 1), 1);
    shm_row r;
    CHECK_EQ(read(c2p[0], &r, sizeof(r)), sizeof(r));
    CHECK_EQ(r.cs.bytes_in, sizeof(msg));
    CHECK_EQ(r.unread, KEEP);

    static char out[1 << 16];
    char args[64];
    snprintf(args, sizeof(args), "--json -c -p %d", (int)pid);
    CHECK_EQ(run_tool(args, out, sizeof(out)), 0);
    const char *f = strstr(out, "\"kind\":\"shm\""), *cf, *ct;
    CHECK(f != NULL);
    CHECK(strstr(out, "\"ports\":[5002]"));
    CHECK_EQ(jnum(out, out + strlen(out), "connections"), 1);
    if (find_conn(out, out + strlen(out), 0, &cf, &ct))
        check_row(cf, ct, &r);
    else
        CHECK(!"the server's connection is listed");

    /* This side's, as this process's API says. */
    snprintf(args, sizeof(args), "--json -c -p %d", (int)getpid());
    CHECK_EQ(run_tool(args, out, sizeof(out)), 0);
    const char *from, *to;
    REQUIRE(find_instance(out, cli->st.stat.path, &from, &to));
    CHECK(jstr_is(from, to, "kind", "shm"));
    check_conn(from, to, c);

    CHECK_EQ(write(p2c[1], "Q", 1), 1);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    efvitcp_client_close(cli);
    close(p2c[1]), close(c2p[0]);
}

/* The server's update held open (as a publish in progress would): the tool reports the instance
   busy rather than a half-written copy, and reads it again once the update ends. */
static void test_update_in_progress(void)
{
    sim s;
    REQUIRE(!sim_init(&s, NULL, NULL, NULL, SPORT_A));
    et_stat_hdr *h = s.srv->st.stat.hdr;
    REQUIRE(h);
    static char out[1 << 16];
    char args[64];
    snprintf(args, sizeof(args), "--json -p %d", (int)getpid());
    et_seq_write_begin(&h->seq);
    uint64_t saved = h->stats.frames_in;
    h->stats.frames_in = 12345678; /* half an update: must not be shown */
    CHECK_EQ(run_tool(args, out, sizeof(out)), 0);
    const char *f, *t;
    REQUIRE(find_instance(out, s.srv->st.stat.path, &f, &t));
    CHECK(strstr(f, "\"busy\":true") && strstr(f, "\"busy\":true") < t);
    CHECK(!strstr(out, "12345678"));
    h->stats.frames_in = saved;
    et_seq_write_end(&h->seq);
    CHECK_EQ(run_tool(args, out, sizeof(out)), 0);
    REQUIRE(find_instance(out, s.srv->st.stat.path, &f, &t));
    CHECK(strstr(f, "\"busy\":false") && strstr(f, "\"busy\":false") < t);
    sim_free(&s);
}

/* The regions of process pid in /dev/shm. */
static int regions_of(int pid)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "ls " ET_STAT_DIR " | grep -c '^" ET_STAT_PREFIX "%d-'", pid);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    return n;
}

/* A child that makes two instances and exits without closing them: a crash, as far as the
   regions can tell. It is left a zombie (WNOWAIT), whose pid still exists, so that no other
   process's init (tests run in parallel) reclaims its regions before this test has looked. */
static int crash_child(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        sim s;
        if (sim_init(&s, NULL, NULL, NULL, SPORT_A)) _exit(1);
        _exit(0); /* no close: the regions stay behind */
    }
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    CHECK(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) == 0);
    CHECK(info.si_code == CLD_EXITED && info.si_status == 0);
    return pid;
}

/* The zombie is reaped: its pid is gone and its regions are a dead process's. */
static void reap(int pid)
{
    CHECK(waitpid(pid, NULL, 0) == pid);
}

/* The defaults, on the mem link of w. */
static void mem_config(efvitcp_config *cfg, efvitcp_wire *w)
{
    efvitcp_config_default(cfg);
    cfg->local_addr = "198.18.0.9/24";
    cfg->wire = w;
}

/* After the crash, the tool and the next init leave no region of the dead process. (With other
   tests running, another process's init may get there first: the outcome is the same, and
   tests/unit/test_stat_format.c counts what a reclaim removes in a directory of its own.) */
static void test_reclaim_after_crash(void)
{
    static char out[1 << 16];
    char args[64];
    int dead = crash_child();
    CHECK_EQ(regions_of(dead), 2); /* its server and client */
    snprintf(args, sizeof(args), "--json -p %d", dead);
    CHECK_EQ(run_tool(args, out, sizeof(out)), 0);
    CHECK(strstr(out, "\"link\":\"mem:server\"")); /* a zombie's: still shown, still kept */
    CHECK_EQ(regions_of(dead), 2);
    reap(dead);
    /* --no-reclaim leaves them... */
    snprintf(args, sizeof(args), "--json --no-reclaim -p %d", dead);
    CHECK_EQ(run_tool(args, out, sizeof(out)), 0);
    /* ...and by default the tool removes them. */
    snprintf(args, sizeof(args), "--json -p %d", dead);
    CHECK_EQ(run_tool(args, out, sizeof(out)), 0);
    CHECK(strstr(out, "{\"instances\":[]}"));
    CHECK_EQ(regions_of(dead), 0);

    /* The next init of any instance removes them as well. */
    dead = crash_child();
    CHECK_EQ(regions_of(dead), 2);
    reap(dead);
    efvitcp_wire *w;
    REQUIRE(!efvitcp_wire_new(&w, NULL));
    efvitcp_config cfg;
    mem_config(&cfg, w);
    efvitcp_client *cli;
    CHECK_NULL_ERR(efvitcp_client_init(&cli, "mem:x", &cfg));
    CHECK_EQ(regions_of(dead), 0);
    efvitcp_client_close(cli);
    efvitcp_wire_free(w);
}

/* Close removes the region; cfg.stat_shm = false makes none; the interval is honoured. */
static void test_lifecycle_and_knobs(void)
{
    int mine = regions_of(getpid());
    efvitcp_wire *w;
    REQUIRE(!efvitcp_wire_new(&w, NULL));
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    CHECK(cfg.stat_shm);
    CHECK_EQ(cfg.stat_interval_ms, 100);
    cfg.local_addr = "198.18.0.9/24";
    cfg.wire = w;
    cfg.stat_interval_ms = 10;
    efvitcp_client *cli;
    REQUIRE(!efvitcp_client_init(&cli, "mem:x", &cfg));
    CHECK_EQ(regions_of(getpid()), mine + 1);
    char path[ET_STAT_PATH_MAX];
    snprintf(path, sizeof(path), "%s", cli->st.stat.path);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);
    const et_stat_hdr *h = cli->st.stat.hdr;
    CHECK_EQ(h->publishes, 1); /* at init */
    uint64_t t0 = efvitcp_wire_now(w);
    efvitcp_client_poll(cli, NULL, NULL);
    CHECK_EQ(h->publishes, 1); /* before the deadline: nothing */
    efvitcp_wire_set_now(w, t0 + 9999999);
    efvitcp_client_poll(cli, NULL, NULL);
    CHECK_EQ(h->publishes, 1);
    efvitcp_wire_set_now(w, t0 + 10000000);
    efvitcp_client_poll(cli, NULL, NULL);
    CHECK_EQ(h->publishes, 2);
    CHECK_EQ(h->publish_ns, t0 + 10000000);
    /* A child that closes the instance it inherited leaves this process's region alone. */
    pid_t pid = fork();
    if (pid == 0) {
        efvitcp_client_close(cli);
        _exit(access(path, F_OK) == 0 ? 0 : 1);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(access(path, F_OK) == 0);
    efvitcp_client_close(cli);
    CHECK(access(path, F_OK) != 0);
    CHECK_EQ(regions_of(getpid()), mine);

    cfg.stat_shm = false;
    REQUIRE(!efvitcp_client_init(&cli, "mem:x", &cfg));
    CHECK(cli->st.stat.hdr == NULL);
    CHECK_EQ(regions_of(getpid()), mine);
    efvitcp_client_close(cli);

    cfg.stat_shm = true;
    cfg.stat_interval_ms = 0;
    CHECK(efvitcp_client_init(&cli, "mem:x", &cfg) != NULL);
    efvitcp_wire_free(w);
}

/* An instance that sleeps (idle waits: until efvitcp_*_next_timer) publishes what it did before
   it sleeps long: the next publish counts as a timer while frames passed since the last one, and
   not once the view shows them. */
static void test_sleeper_publishes(void)
{
    efvitcp_wire *w;
    REQUIRE(!efvitcp_wire_new(&w, NULL));
    efvitcp_config cfg;
    mem_config(&cfg, w);
    cfg.stat_interval_ms = 10;
    efvitcp_client *cli;
    REQUIRE(!efvitcp_client_init(&cli, "mem:x", &cfg));
    const et_stat_hdr *h = cli->st.stat.hdr;
    uint64_t t0 = efvitcp_wire_now(w);
    CHECK_EQ(efvitcp_client_next_timer(cli), UINT64_MAX); /* nothing to do, nothing to show */
    /* A connect to a host nobody answers for: an ARP request leaves, its retry is armed at 1 s. */
    efvitcp_conn *c;
    REQUIRE(!efvitcp_client_connect(cli, "198.18.0.10", 80, 0, &c));
    CHECK_EQ(efvitcp_client_next_timer(cli), t0 + 10000000);
    efvitcp_wire_set_now(w, t0 + 10000000);
    efvitcp_client_poll(cli, NULL, NULL);
    CHECK_EQ(h->publishes, 2);
    uint64_t next = efvitcp_client_next_timer(cli);
    /* The ARP retry's (which the wheel may report early, by its granularity), not the view's. */
    CHECK(next > t0 + 100000000ull && next != UINT64_MAX);
    efvitcp_client_close(cli);
    efvitcp_wire_free(w);
}

static void test_help(void)
{
    static char out[8192];
    CHECK_EQ(run_tool("--help", out, sizeof(out)), 0);
    CHECK(strstr(out, "usage: efvitcp-stat"));
    CHECK_EQ(run_tool("--bogus 2>/dev/null", out, sizeof(out)), 2);
}

int main(void)
{
    RUN(test_live_view);
    RUN(test_update_in_progress);
    RUN(test_read_while_running);
    RUN(test_shm_two_processes);
    RUN(test_reclaim_after_crash);
    RUN(test_lifecycle_and_knobs);
    RUN(test_sleeper_publishes);
    RUN(test_help);
    return th_summary();
}
