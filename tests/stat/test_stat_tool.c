/*
 * efvitcp-stat on live instances: a server and a client with connections over the mem wire,
 * read by the real tool in another process (--json), every figure checked against the API's
 * (efvitcp_*_stats, efvitcp_conn_get_stats, efvitcp_unread); an update held open while the tool
 * reads (shown busy, never half-written); the region of a process that died without closing,
 * removed by the tool and by the next init; close and cfg.stat_shm = false.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
    efvitcp_config_default(&cfg);
    cfg.local_addr = "198.18.0.9/24";
    cfg.wire = w;
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
    RUN(test_reclaim_after_crash);
    RUN(test_lifecycle_and_knobs);
    RUN(test_help);
    return th_summary();
}
