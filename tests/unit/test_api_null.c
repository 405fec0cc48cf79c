/*
 * The C API with NULL where an instance, a connection or an output goes (efvitcp.h, "NULL
 * pointers"): wrong use gets a clear error, an answer that says "nothing there", or no effect,
 * never a crash. An init that failed leaves *out NULL and connect's *conn NULL, so a program that
 * misses the error passes exactly these. Before, most calls dereferenced the pointer.
 */
#include <string.h>

#include "efvitcp/efvitcp.h"
#include "harness.h"

static int calls;

static void count(void *arg, efvitcp_conn *c)
{
    (void)arg;
    (void)c;
    calls++;
}

/* Filled with a pattern, so that "zeroed" is seen to be written. */
#define SCRIBBLE(x) memset(&(x), 0xa5, sizeof(x))

static bool all_zero(const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (((const unsigned char *)p)[i]) return false;
    return true;
}

static void test_null_client(void)
{
    efvitcp_handler h = {0};
    efvitcp_conn *conn = (efvitcp_conn *)&calls; /* any non-NULL value */
    const char *err = efvitcp_client_connect(NULL, "198.18.0.2", 80, 0, &conn);
    CHECK(err != NULL && strstr(err, "NULL"));
    CHECK(conn == NULL);
    efvitcp_client_poll(NULL, &h, NULL);
    efvitcp_client_poll_at(NULL, &h, NULL, 1);
    CHECK_EQ(efvitcp_client_next_timer(NULL), UINT64_MAX);
    efvitcp_stats st;
    SCRIBBLE(st);
    efvitcp_client_stats(NULL, &st);
    CHECK(all_zero(&st, sizeof(st)));
    calls = 0;
    efvitcp_client_foreach(NULL, count, NULL);
    CHECK_EQ(calls, 0);
    CHECK_EQ(efvitcp_client_fd(NULL), -1);
    CHECK_EQ(efvitcp_client_prime(NULL), -1);
    efvitcp_client_close(NULL);
}

static void test_null_server(void)
{
    efvitcp_handler h = {0};
    const char *err = efvitcp_server_listen(NULL, 5000);
    CHECK(err != NULL && strstr(err, "NULL"));
    err = efvitcp_server_unlisten(NULL, 5000);
    CHECK(err != NULL && strstr(err, "NULL"));
    efvitcp_server_poll(NULL, &h, NULL);
    efvitcp_server_poll_at(NULL, &h, NULL, 1);
    CHECK_EQ(efvitcp_server_next_timer(NULL), UINT64_MAX);
    efvitcp_stats st;
    SCRIBBLE(st);
    efvitcp_server_stats(NULL, &st);
    CHECK(all_zero(&st, sizeof(st)));
    calls = 0;
    efvitcp_server_foreach(NULL, count, NULL);
    CHECK_EQ(calls, 0);
    CHECK_EQ(efvitcp_server_conn_count(NULL), 0);
    CHECK_EQ(efvitcp_server_fd(NULL), -1);
    CHECK_EQ(efvitcp_server_prime(NULL), -1);
    efvitcp_server_close(NULL);
}

/* A NULL connection answers as a freed one does: nothing sent, queued, held or timed. */
static void test_null_conn(void)
{
    uint8_t buf[8] = {0};
    struct iovec iov = {buf, sizeof(buf)};
    CHECK_EQ(efvitcp_send(NULL, buf, sizeof(buf), false), 0);
    CHECK_EQ(efvitcp_send(NULL, buf, sizeof(buf), true), 0);
    CHECK_EQ(efvitcp_sendv(NULL, &iov, 1, false), 0);
    CHECK_EQ(efvitcp_sendable(NULL), 0);
    CHECK_EQ(efvitcp_immediately_sendable(NULL), 0);
    const char *err = efvitcp_send_fin(NULL);
    CHECK(err != NULL && strstr(err, "NULL"));
    efvitcp_conn_close(NULL);
    err = efvitcp_set_user_timer(NULL, 0, 5);
    CHECK(err != NULL && strstr(err, "NULL"));
    err = efvitcp_set_user_timer_ns(NULL, 0, 5);
    CHECK(err != NULL && strstr(err, "NULL"));
    efvitcp_cancel_user_timer(NULL, 0);
    const uint8_t *data = buf;
    CHECK_EQ(efvitcp_unread(NULL, &data), 0);
    CHECK(data == NULL);
    efvitcp_consume(NULL, 1);
    CHECK_EQ(efvitcp_rx_hw_timestamp(NULL), 0);
    efvitcp_tx_report rep;
    CHECK_EQ(efvitcp_tx_timestamps(NULL, &rep, 1), 0);
    CHECK_EQ(efvitcp_tx_offset(NULL), 0);
    CHECK(efvitcp_user_data(NULL) == NULL);
    struct sockaddr_in sa;
    SCRIBBLE(sa);
    efvitcp_peername(NULL, &sa);
    CHECK_EQ(sa.sin_family, AF_INET);
    CHECK_EQ(sa.sin_addr.s_addr, 0);
    CHECK_EQ(sa.sin_port, 0);
    CHECK_EQ(efvitcp_local_port(NULL), 0);
    CHECK_EQ(efvitcp_conn_id(NULL), UINT32_MAX);
    CHECK(!efvitcp_is_established(NULL));
    CHECK(efvitcp_is_closed(NULL));
    efvitcp_conn_stats cs;
    SCRIBBLE(cs);
    efvitcp_conn_get_stats(NULL, &cs);
    CHECK(all_zero(&cs, sizeof(cs)));
}

/* NULL outputs on a live instance and connection: nothing written, nothing else changed. */
static void test_null_outputs(void)
{
    efvitcp_config_default(NULL);
    efvitcp_wire *w = NULL;
    REQUIRE(efvitcp_wire_new(&w, NULL) == NULL);
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.wire = w;
    cfg.local_addr = "198.18.0.1/15";
    efvitcp_server *srv = NULL;
    efvitcp_client *cli = NULL;
    REQUIRE(efvitcp_server_init(&srv, "mem:s", &cfg) == NULL);
    cfg.local_addr = "198.18.0.2/15";
    REQUIRE(efvitcp_client_init(&cli, "mem:c", &cfg) == NULL);
    efvitcp_server_stats(srv, NULL);
    efvitcp_client_stats(cli, NULL);
    efvitcp_server_foreach(srv, NULL, NULL);
    efvitcp_client_foreach(cli, NULL, NULL);
    REQUIRE(efvitcp_server_listen(srv, 5000) == NULL);
    efvitcp_conn *c = NULL;
    REQUIRE(efvitcp_client_connect(cli, "198.18.0.1", 5000, 0, &c) == NULL);
    REQUIRE(c != NULL);
    calls = 0;
    efvitcp_client_foreach(cli, count, NULL);
    CHECK_EQ(calls, 1);
    efvitcp_conn_get_stats(c, NULL);
    efvitcp_peername(c, NULL);
    CHECK_EQ(efvitcp_unread(c, NULL), 0);
    CHECK_EQ(efvitcp_tx_timestamps(c, NULL, 4), 0);
    CHECK(!efvitcp_is_closed(c));
    const char *err = efvitcp_client_connect(cli, NULL, 5000, 0, &c);
    CHECK(err != NULL);
    CHECK(c == NULL);
    CHECK(efvitcp_server_init(NULL, "mem:x", &cfg) != NULL);
    CHECK(efvitcp_client_init(NULL, "mem:x", &cfg) != NULL);
    efvitcp_client_close(cli);
    efvitcp_server_close(srv);
    uint64_t d = 1, x = 1;
    efvitcp_wire_counts(NULL, &d, &x);
    CHECK_EQ(d, 0);
    CHECK_EQ(x, 0);
    CHECK_EQ(efvitcp_wire_now(NULL), 0);
    efvitcp_wire_set_now(NULL, 5);
    CHECK_EQ(efvitcp_wire_next_delivery(NULL), UINT64_MAX);
    CHECK(efvitcp_wire_set_faults(NULL, "s", NULL) != NULL);
    CHECK(efvitcp_wire_new(NULL, NULL) != NULL);
    efvitcp_wire_free(w);
    efvitcp_wire_free(NULL);
}

int main(void)
{
    RUN(test_null_client);
    RUN(test_null_server);
    RUN(test_null_conn);
    RUN(test_null_outputs);
    return th_summary();
}
