/* Picks the link that an interface string names, and parses own-address settings for links. */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "link/link.h"

#define LINKS_SUPPORTED "mem:NAME, shm:NAME, packet:IF, xdp:IF, efvi:IF or a plain interface name"

/* "A.B.C.D" (decimal, 1..3 digits per octet); advances *sp past it. Host order. */
static bool parse_ipv4(const char **sp, uint32_t *out)
{
    const char *s = *sp;
    uint32_t ip = 0;
    for (int i = 0; i < 4; i++) {
        if (i) {
            if (*s != '.') return false;
            s++;
        }
        uint32_t v = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9') {
            if (++digits > 3) return false;
            v = v * 10 + (uint32_t)(*s - '0');
            s++;
        }
        if (digits == 0 || v > 255) return false;
        ip = ip << 8 | v;
    }
    *sp = s;
    *out = ip;
    return true;
}

static bool unicast(uint32_t ip)
{
    /* 0.0.0.0 means "no address" in link.h; class D/E cannot be a host's own address. */
    return ip != 0 && ip < 0xe0000000u;
}

const char *et_link_config_addr(const et_link_params *p, et_link *l)
{
    if (!p || !p->local_addr) return "local_addr \"A.B.C.D/prefix\" is required";
    const char *s = p->local_addr;
    uint32_t ip, prefix = 0;
    if (!parse_ipv4(&s, &ip) || *s != '/') return "malformed local_addr, want \"A.B.C.D/prefix\"";
    s++;
    int digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 2) {
        prefix = prefix * 10 + (uint32_t)(*s - '0');
        s++;
        digits++;
    }
    if (digits == 0 || *s != '\0' || prefix > 32)
        return "malformed local_addr, want \"A.B.C.D/prefix\" with prefix 0..32";
    if (!unicast(ip)) return "local_addr must be a unicast address";
    uint32_t gw = 0;
    if (p->gateway) {
        s = p->gateway;
        if (!parse_ipv4(&s, &gw) || *s != '\0') return "malformed gateway, want \"A.B.C.D\"";
        if (!unicast(gw)) return "gateway must be a unicast address";
        uint32_t mask = prefix ? ~0u << (32 - prefix) : 0;
        /* A next hop is reached by ARP on the local subnet; any other is unreachable. */
        if ((gw & mask) != (ip & mask)) return "gateway is not on the local_addr subnet";
        if (gw == ip) return "gateway equals local_addr";
    }
    l->local_ip = ip;
    l->prefix_len = prefix;
    l->gateway = gw;
    l->caps |= ET_LINK_CAP_OWN_ADDR;
    return NULL;
}

static const char *open_xdp(const char *ifname, const et_link_params *p, et_link **out)
{
#ifdef EFVITCP_HAVE_XDP
    return et_xdp_link_open(ifname, p, out);
#else
    (void)ifname, (void)p, (void)out;
    return "xdp link not built (needs libxdp, libbpf and clang at build time)";
#endif
}

static const char *open_efvi(const char *spec, const et_link_params *p, et_link **out)
{
#if defined(EFVITCP_EFVI_EMU)
    /* The test build against the ef_vi emulator: there a simulated wire in the params makes
       "efvi:NAME" an emulated NIC port on it, which the emulator attaches before the link opens;
       the link itself knows nothing of wires. */
    return et_efvi_emu_link_open(spec, p, out);
#elif defined(EFVITCP_HAVE_EFVI)
    if (p && p->wire)
        return "efvi link: cfg->wire needs a build against the ef_vi emulator (tests only)";
    return et_efvi_link_open(spec, p, out);
#else
    (void)spec, (void)p, (void)out;
    return "efvi link not built (Onload's ef_vi headers and libciul were not found)";
#endif
}

/* Names the link that opened (et_link.kind) and passes the result through. */
static const char *opened(const char *err, et_link **out, const char *kind)
{
    if (!err && out && *out) {
        (*out)->kind = kind;
        /* No doorbell at all: et_link_flush tests the flag alone. */
        if (!(*out)->ops->tx_flush) (*out)->tx_flush_none = 1;
    }
    return err;
}

/* Opens the link an explicit "kind:" prefix names; NULL in *handled when there is none. */
static const char *open_named(const char *interface, const et_link_params *p, et_link **out,
                              bool *handled)
{
    *handled = true;
    if (strncmp(interface, "mem:", 4) == 0)
        return opened(et_mem_link_open(interface + 4, p, out), out, "mem");
    if (strncmp(interface, "shm:", 4) == 0)
        return opened(et_shm_link_open(interface + 4, p, out), out, "shm");
    if (strncmp(interface, "packet:", 7) == 0)
        return opened(et_packet_link_open(interface + 7, p, out), out, "packet");
    if (strncmp(interface, "xdp:", 4) == 0)
        return opened(open_xdp(interface + 4, p, out), out, "xdp");
    if (strncmp(interface, "efvi:", 5) == 0)
        return opened(open_efvi(interface + 5, p, out), out, "efvi");
    *handled = false;
    return NULL;
}

const char *et_link_open(const char *interface, const et_link_params *p, et_link **out)
{
    if (out) *out = NULL;
    if (!interface || !*interface) return "no interface given: supported: " LINKS_SUPPORTED;
    bool handled;
    const char *err = open_named(interface, p, out, &handled);
    if (handled) return err;
    /* Error strings are static (efvitcp.h), so the offending name cannot be quoted back. */
    if (strchr(interface, ':')) {
        return "unknown link type: supported: " LINKS_SUPPORTED;
    }
    /* A plain interface name: the best link that opens. ef_vi first where it is built, since a
       Solarflare/AMD port opens with it and nothing else is as fast there (the original C++
       efvitcp's users write init("p1p1")); on any other NIC it fails at once and xdp is next;
       AF_PACKET can always be opened by a privileged process but only for an address of our
       own. */
#if defined(EFVITCP_HAVE_EFVI)
    if (!open_efvi(interface, p, out)) return opened(NULL, out, "efvi");
#endif
    const char *xdp_err = open_xdp(interface, p, out);
    if (!xdp_err) return opened(NULL, out, "xdp");
    const char *pkt_err = et_packet_link_open(interface, p, out);
    if (!pkt_err) return opened(NULL, out, "packet");
#ifdef EFVITCP_HAVE_XDP
    return xdp_err;
#else
    return pkt_err;
#endif
}
