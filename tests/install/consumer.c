/*
 * A program built against an installed efvitcp (tests/install/run.sh builds it with pkg-config
 * and with find_package): an echo server and a client in one process, joined by a mem wire on the
 * real clock, exchange a few bytes. It uses the public header alone, as a user's program would.
 * Prints "ok" and exits 0 on success.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <efvitcp/efvitcp.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MESSAGE "hello from an installed efvitcp"

typedef struct app {
    char echoed[64];
    uint32_t echoed_len;
    const char *error;
} app;

static uint32_t server_on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    (void)ctx;
    /* Echo: what the send ring does not take stays unconsumed and comes again. */
    return len - efvitcp_send(c, data, len, false);
}

static void client_on_established(void *ctx, efvitcp_conn *c)
{
    app *a = ctx;
    if (efvitcp_send(c, MESSAGE, sizeof(MESSAGE) - 1, false) != sizeof(MESSAGE) - 1)
        a->error = "send took less than the message";
}

static uint32_t client_on_data(void *ctx, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    app *a = ctx;
    (void)c;
    if (a->echoed_len + len > sizeof(a->echoed)) {
        a->error = "more bytes than sent";
        return 0;
    }
    memcpy(a->echoed + a->echoed_len, data, len);
    a->echoed_len += len;
    return 0;
}

static void on_failure(void *ctx, efvitcp_conn *c)
{
    (void)c;
    ((app *)ctx)->error = "connection refused, reset or timed out";
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, const char *err)
{
    fprintf(stderr, "consumer: %s: %s\n", what, err);
    return 1;
}

int main(void)
{
    /* The library this program runs with must be the one whose header it was built against. */
    if (strcmp(efvitcp_version(), EFVITCP_VERSION_STRING) != 0)
        return fail("version", "the library is not the header's version");

    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.virtual_clock = false;
    efvitcp_wire *wire;
    const char *err = efvitcp_wire_new(&wire, &wc);
    if (err) return fail("efvitcp_wire_new", err);

    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.wire = wire;
    cfg.max_conns = 4;
    cfg.local_addr = "198.18.0.1/24";
    efvitcp_server *srv;
    if ((err = efvitcp_server_init(&srv, "mem:server", &cfg))) return fail("server init", err);
    if ((err = efvitcp_server_listen(srv, 7))) return fail("listen", err);
    cfg.local_addr = "198.18.0.2/24";
    efvitcp_client *cli;
    if ((err = efvitcp_client_init(&cli, "mem:client", &cfg))) return fail("client init", err);

    app a = {{0}, 0, NULL};
    efvitcp_handler sh = {0}, ch = {0};
    sh.on_data = server_on_data;
    ch.on_established = client_on_established;
    ch.on_data = client_on_data;
    ch.on_connection_refused = ch.on_reset = ch.on_timeout = on_failure;
    if ((err = efvitcp_client_connect(cli, "198.18.0.1", 7, 0, NULL))) return fail("connect", err);
    double deadline = seconds() + 10;
    while (!a.error && a.echoed_len < sizeof(MESSAGE) - 1 && seconds() < deadline) {
        efvitcp_server_poll(srv, &sh, &a);
        efvitcp_client_poll(cli, &ch, &a);
    }
    if (a.error) return fail("exchange", a.error);
    if (a.echoed_len != sizeof(MESSAGE) - 1 || memcmp(a.echoed, MESSAGE, a.echoed_len) != 0)
        return fail("exchange", "the echo did not come back within 10 s");

    efvitcp_stats st;
    efvitcp_client_stats(cli, &st);
    if (st.bytes_out != sizeof(MESSAGE) - 1 || st.bytes_in != sizeof(MESSAGE) - 1)
        return fail("stats", "byte counters do not match the exchange");
    efvitcp_client_close(cli);
    efvitcp_server_close(srv);
    efvitcp_wire_free(wire);
    printf("ok: efvitcp %s, %u bytes echoed over the mem link\n", efvitcp_version(), a.echoed_len);
    return 0;
}
