// The C++ consumer (tests/install/run.sh): the C header used from C++ (its declarations have C
// linkage, or this would not link), an echo exchange over the mem link as in consumer.c.
#include <efvitcp/efvitcp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

namespace
{

const std::string message = "hello from C++";

struct App {
    std::string echoed;
    const char *error = nullptr;
};

extern "C" uint32_t server_on_data(void *, efvitcp_conn *c, const uint8_t *data, uint32_t len)
{
    return len - efvitcp_send(c, data, len, false);
}

int fail(const char *what, const char *err)
{
    std::fprintf(stderr, "consumer++: %s: %s\n", what, err);
    return 1;
}

} // namespace

int main()
{
    if (std::strcmp(efvitcp_version(), EFVITCP_VERSION_STRING) != 0)
        return fail("version", "the library is not the header's version");
    efvitcp_wire_config wc;
    efvitcp_wire_config_default(&wc);
    wc.virtual_clock = false;
    efvitcp_wire *wire = nullptr;
    const char *err = efvitcp_wire_new(&wire, &wc);
    if (err) return fail("efvitcp_wire_new", err);

    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    cfg.wire = wire;
    cfg.max_conns = 4;
    cfg.local_addr = "198.18.0.1/24";
    efvitcp_server *srv = nullptr;
    if ((err = efvitcp_server_init(&srv, "mem:server", &cfg))) return fail("server init", err);
    if ((err = efvitcp_server_listen(srv, 7))) return fail("listen", err);
    cfg.local_addr = "198.18.0.2/24";
    efvitcp_client *cli = nullptr;
    if ((err = efvitcp_client_init(&cli, "mem:client", &cfg))) return fail("client init", err);

    App app;
    efvitcp_handler sh{}, ch{}; // value-initialised: every callback and reserved slot NULL
    sh.on_data = server_on_data;
    ch.on_established = [](void *ctx, efvitcp_conn *c) {
        auto *a = static_cast<App *>(ctx);
        if (efvitcp_send(c, message.data(), uint32_t(message.size()), false) != message.size())
            a->error = "send took less than the message";
    };
    ch.on_data = [](void *ctx, efvitcp_conn *, const uint8_t *data, uint32_t len) -> uint32_t {
        static_cast<App *>(ctx)->echoed.append(reinterpret_cast<const char *>(data), len);
        return 0;
    };
    ch.on_reset = ch.on_timeout = ch.on_connection_refused = [](void *ctx, efvitcp_conn *) {
        static_cast<App *>(ctx)->error = "connection refused, reset or timed out";
    };
    if ((err = efvitcp_client_connect(cli, "198.18.0.1", 7, 0, nullptr)))
        return fail("connect", err);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!app.error && app.echoed.size() < message.size() &&
           std::chrono::steady_clock::now() < deadline) {
        efvitcp_server_poll(srv, &sh, &app);
        efvitcp_client_poll(cli, &ch, &app);
    }
    if (app.error) return fail("exchange", app.error);
    if (app.echoed != message) return fail("exchange", "the echo did not come back within 10 s");
    efvitcp_client_close(cli);
    efvitcp_server_close(srv);
    efvitcp_wire_free(wire);
    std::printf("ok: efvitcp %s from C++, \"%s\" echoed\n", efvitcp_version(), app.echoed.c_str());
    return 0;
}
