/*
 * echo_bench's links (echo_link.h). With EFVITCP_BENCH_EFVI (echo_bench_efvi, linked with
 * efvitcp_efvi_emu) an instance named NAME runs the efvi link on the emulated port NAME of the
 * bench's wire: "efvi:NAME" with cfg->wire, the port created by the instance's init with the
 * configuration set just before it (tests/efvi_emu/include/efvi_emu.h). The link's defaults are
 * kept: CTPIO with a 64-byte cut-through threshold, no RX timestamps.
 */
#include <string.h>

#include "echo_link.h"
#ifdef EFVITCP_BENCH_EFVI
#include <etherfabric/ef_vi.h>

#include "efvi_emu.h"
#endif

static const char *const names[] = {"mem", "efvi", "efct"};

bool echo_link_parse(const char *name, echo_link *out, const char **why)
{
    for (int i = 0; i <= ECHO_LINK_EFCT; i++) {
        if (strcmp(name, names[i]) != 0) continue;
#ifndef EFVITCP_BENCH_EFVI
        if (i != ECHO_LINK_MEM) {
            *why = "--link efvi and efct need echo_bench_efvi, the build against the ef_vi "
                   "emulator (tests/efvi_emu; built with the tests)";
            return false;
        }
#endif
        *out = (echo_link)i;
        return true;
    }
    *why = "--link wants mem, efvi or efct";
    return false;
}

const char *echo_link_name(echo_link l)
{
    return names[l];
}

const char *echo_link_what(echo_link l)
{
    static const char *const what[] = {"the mem link",
                                       "the efvi link on emulated EF10 ports (CTPIO)",
                                       "the efvi link on emulated EFCT ports"};
    return what[l];
}

#ifdef EFVITCP_BENCH_EFVI
/* The port that the next init creates: EF10 (X2) with CTPIO, or EFCT (X3), which sends only by
   CTPIO. */
static void set_port(echo_link l)
{
    efvi_emu_nic_config nc;
    efvi_emu_nic_config_default(&nc);
    nc.arch = l == ECHO_LINK_EFCT ? EF_VI_ARCH_EFCT : EF_VI_ARCH_EF10;
    nc.ctpio = true;
    efvi_emu_set_default_config(&nc);
}
#endif

const char *echo_link_server_init(echo_link l, efvitcp_server **out, const efvitcp_config *cfg)
{
    if (l == ECHO_LINK_MEM) return efvitcp_server_init(out, "mem:server", cfg);
#ifdef EFVITCP_BENCH_EFVI
    set_port(l);
    const char *err = efvitcp_server_init(out, "efvi:server", cfg);
    efvi_emu_set_default_config(NULL);
    return err;
#else
    return "no efvi link in this build";
#endif
}

const char *echo_link_client_init(echo_link l, efvitcp_client **out, const efvitcp_config *cfg)
{
    if (l == ECHO_LINK_MEM) return efvitcp_client_init(out, "mem:client", cfg);
#ifdef EFVITCP_BENCH_EFVI
    set_port(l);
    const char *err = efvitcp_client_init(out, "efvi:client", cfg);
    efvi_emu_set_default_config(NULL);
    return err;
#else
    return "no efvi link in this build";
#endif
}

void echo_link_tx_counts(echo_link l, efvitcp_wire *w, uint64_t *ctpio, uint64_t *dma)
{
    *ctpio = *dma = 0;
#ifdef EFVITCP_BENCH_EFVI
    if (l == ECHO_LINK_MEM) return;
    static const char *const ports[] = {"server", "client"};
    for (int i = 0; i < 2; i++) {
        efvi_emu_stats st;
        efvi_emu_get_stats(efvi_emu_nic_find(w, ports[i]), &st);
        *ctpio += st.tx_ctpio;
        *dma += st.tx_dma;
    }
#endif
}
