/*
 * The emulated NIC ports: a registry (the "driver"), the port's place on the mem wire (or on a
 * real interface: emu_packet.c), receive filters and the steering of arriving frames to VIs, the
 * EFCT shared receive pool, and the control API of efvi_emu.h.
 */
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"
#include "wire/wire_hooks.h"

#define EMU_MAX_NICS 256

static struct efvi_emu_nic *g_nics[EMU_MAX_NICS];
static efvi_emu_nic_config g_default_cfg;
static bool g_default_set, g_strict;
static uint64_t g_violations;

/* ------------------------------------------------------------------------------------------ */
/* Registry and configuration                                                                  */
/* ------------------------------------------------------------------------------------------ */

void emu_violation(struct efvi_emu_nic *nic, const char *what)
{
    g_violations++;
    if (nic) {
        nic->st.violations++;
        snprintf(nic->st.last_violation, sizeof(nic->st.last_violation), "%s", what);
    }
    if (g_strict) {
        fprintf(stderr, "ef_vi emulator: API misuse: %s\n", what);
        abort();
    }
}

uint64_t efvi_emu_total_violations(void)
{
    return g_violations;
}

void efvi_emu_set_strict(bool strict)
{
    g_strict = strict;
}

void efvi_emu_nic_config_default(efvi_emu_nic_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->arch = EF_VI_ARCH_EF10;
    cfg->ctpio = true;
    cfg->rx_timestamps = true;
    cfg->tx_timestamps = true;
    cfg->rx_csum_check = true;
}

void efvi_emu_set_default_config(const efvi_emu_nic_config *cfg)
{
    g_default_set = cfg != NULL;
    if (cfg) g_default_cfg = *cfg;
}

struct efvi_emu_nic *emu_nic_by_name(const efvitcp_wire *w, const char *name)
{
    if (!name) return NULL;
    for (int i = 0; i < EMU_MAX_NICS; i++)
        if (g_nics[i] && (!w || g_nics[i]->w == w) && strcmp(g_nics[i]->name, name) == 0)
            return g_nics[i];
    return NULL;
}

struct efvi_emu_nic *emu_nic_by_ifindex(int ifindex)
{
    for (int i = 0; i < EMU_MAX_NICS; i++)
        if (g_nics[i] && g_nics[i]->ifindex == ifindex) return g_nics[i];
    return NULL;
}

efvi_emu_nic *efvi_emu_nic_find(const efvitcp_wire *w, const char *name)
{
    if (w) return emu_nic_by_name(w, name);
    for (int i = 0; name && i < EMU_MAX_NICS; i++)
        if (g_nics[i] && g_nics[i]->pkt && strcmp(g_nics[i]->name, name) == 0) return g_nics[i];
    return NULL;
}

void emu_nic_ref(struct efvi_emu_nic *nic)
{
    nic->refs++;
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

static void report(const struct efvi_emu_nic *nic)
{
    const efvi_emu_stats *st = &nic->st;
    fprintf(stderr,
            "ef_vi emulator: port %s: rx frames %" PRIu64 " to_kernel %" PRIu64 " events %" PRIu64
            " nodesc %" PRIu64 " csum_bad %" PRIu64 " wire_dropped %" PRIu64
            " wire_overflow %" PRIu64 "; tx dma %" PRIu64 " ctpio %" PRIu64 " ctpio_fail %" PRIu64
            " wire_busy %" PRIu64 " wire_dropped %" PRIu64 "; oflows %" PRIu64 " resets %" PRIu64
            " violations %" PRIu64 "\n",
            nic->name, st->rx_frames, st->rx_to_kernel, st->rx_events, st->rx_nodesc,
            st->rx_discard_csum, st->rx_wire_dropped, st->rx_wire_overflow, st->tx_dma,
            st->tx_ctpio, st->tx_ctpio_fail, st->tx_wire_busy, st->tx_wire_dropped, st->evq_oflows,
            st->resets, st->violations);
}

static void nic_free(struct efvi_emu_nic *nic)
{
    if (nic->pkt) emu_packet_sync_stats(nic);
    if (nic->report_on_close) report(nic);
    for (int i = 0; i < EMU_MAX_NICS; i++)
        if (g_nics[i] == nic) g_nics[i] = NULL;
    if (nic->w) et_wire_raw_detach(nic->w, nic->port);
    if (nic->pkt) emu_packet_close(nic);
    free(nic->filt);
    free(nic->ip_index);
    free(nic->pool);
    free(nic->pkt_refs);
    free(nic->pkt_holders);
    free(nic->pkt_ts);
    free(nic->pkt_len);
    free(nic->pkt_gen);
    free(nic->sb_refs);
    free(nic);
}

/* A port with its configuration checked and its tables allocated, in registry slot *slot_out
   (not yet entered there), on no wire yet. */
static const char *nic_new(const char *name, const efvi_emu_nic_config *cfg,
                           struct efvi_emu_nic **out, int *slot_out)
{
    *out = NULL;
    size_t n = strnlen(name, EMU_NAME_MAX + 1);
    if (n == 0 || n > EMU_NAME_MAX) return "efvi_emu_nic_create: name must be 1..31 characters";
    int slot = -1;
    for (int i = 0; i < EMU_MAX_NICS && slot < 0; i++)
        if (!g_nics[i]) slot = i;
    if (slot < 0) return "efvi_emu_nic_create: too many ports";

    efvi_emu_nic_config c;
    if (cfg)
        c = *cfg;
    else
        efvi_emu_nic_config_default(&c);
    if (c.arch != EF_VI_ARCH_EF10 && c.arch != EF_VI_ARCH_EFCT)
        return "efvi_emu_nic_create: arch must be EF_VI_ARCH_EF10 or EF_VI_ARCH_EFCT";
    if (!c.max_filters) c.max_filters = c.arch == EF_VI_ARCH_EFCT ? 256 : 8192;
    if (!c.rx_buffer_len) c.rx_buffer_len = 1792;
    if (!c.max_txq) c.max_txq = 2048;
    if (!c.efct_superbufs) c.efct_superbufs = 8;
    if (!c.efct_superbuf_pkts) c.efct_superbuf_pkts = 512;
    if (!c.ct_fifo_bytes) c.ct_fifo_bytes = 32768;
    if (!c.seed) c.seed = 1;
    if (c.max_filters > (1u << 20) || c.rx_buffer_len < 256 || c.rx_buffer_len > 16384 ||
        c.efct_superbufs < 2 || c.efct_superbufs > 64 || c.efct_superbuf_pkts > 4096 ||
        c.ct_fifo_bytes < 2048 || c.max_txq < 512 || c.max_txq > 2048 ||
        (c.max_txq & (c.max_txq - 1)))
        return "efvi_emu_nic_create: configuration out of range";

    struct efvi_emu_nic *nic = calloc(1, sizeof(*nic));
    if (!nic) return "out of memory";
    memcpy(nic->name, name, n + 1);
    nic->cfg = c;
    nic->refs = 1;
    et_rng_seed(&nic->rng, c.seed);
    nic->n_filt_slots = c.max_filters;
    nic->filt = calloc(c.max_filters, sizeof(*nic->filt));
    uint32_t idx = pow2_at_least(2 * c.max_filters);
    nic->ip_index = calloc(idx, sizeof(*nic->ip_index));
    nic->ip_index_mask = idx - 1;
    bool ok = nic->filt && nic->ip_index;
    if (ok && c.arch == EF_VI_ARCH_EFCT) {
        nic->n_pkts = c.efct_superbufs * c.efct_superbuf_pkts;
        nic->pool = malloc((size_t)nic->n_pkts * 2048);
        nic->pkt_refs = calloc(nic->n_pkts, sizeof(*nic->pkt_refs));
        nic->pkt_holders = calloc(nic->n_pkts, sizeof(*nic->pkt_holders));
        nic->pkt_ts = calloc(nic->n_pkts, sizeof(*nic->pkt_ts));
        nic->pkt_len = calloc(nic->n_pkts, sizeof(*nic->pkt_len));
        nic->pkt_gen = calloc(nic->n_pkts, sizeof(*nic->pkt_gen));
        nic->sb_refs = calloc(c.efct_superbufs, sizeof(*nic->sb_refs));
        ok = nic->pool && nic->pkt_refs && nic->pkt_holders && nic->pkt_ts && nic->pkt_len &&
             nic->pkt_gen && nic->sb_refs;
    }
    if (!ok) {
        nic_free(nic);
        return "out of memory";
    }
    *out = nic;
    *slot_out = slot;
    return NULL;
}

const char *efvi_emu_nic_create(efvitcp_wire *w, const char *name, const efvi_emu_nic_config *cfg,
                                efvi_emu_nic **out)
{
    if (out) *out = NULL;
    if (!w || !name) return "efvi_emu_nic_create: wire and name are required";
    if (emu_nic_by_name(w, name)) return "efvi_emu_nic_create: the wire has a port of that name";
    struct efvi_emu_nic *nic;
    int slot;
    const char *err = nic_new(name, cfg, &nic, &slot);
    if (err) return err;
    nic->ifindex = EMU_IFINDEX_BASE + slot;
    err = et_wire_raw_attach(w, name, nic->mac, &nic->port);
    if (err) {
        nic_free(nic);
        return err;
    }
    nic->w = w;
    if (!nic->cfg.mtu) nic->cfg.mtu = 1514; /* a default wire (IP MTU 1500) */
    g_nics[slot] = nic;
    if (out) *out = nic;
    return NULL;
}

static const char *packet_create(const char *ifname, int ifindex, const efvi_emu_nic_config *cfg,
                                 struct efvi_emu_nic **out)
{
    *out = NULL;
    if (emu_nic_by_ifindex(ifindex)) return "efvi_emu_packet_create: the interface has a port";
    struct efvi_emu_nic *nic;
    int slot;
    const char *err = nic_new(ifname, cfg, &nic, &slot);
    if (err) return err;
    nic->ifindex = ifindex;
    if ((err = emu_packet_open(nic, ifindex))) {
        nic_free(nic);
        return err;
    }
    g_nics[slot] = nic;
    *out = nic;
    return NULL;
}

const char *efvi_emu_packet_create(const char *ifname, const efvi_emu_nic_config *cfg,
                                   efvi_emu_nic **out)
{
    if (out) *out = NULL;
    if (!ifname) return "efvi_emu_packet_create: ifname is required";
    unsigned ifindex = if_nametoindex(ifname);
    if (!ifindex || ifindex > INT32_MAX) return "efvi_emu_packet_create: no such interface";
    struct efvi_emu_nic *nic;
    const char *err = packet_create(ifname, (int)ifindex, cfg, &nic);
    if (out)
        *out = nic;
    else
        efvi_emu_nic_put(nic);
    return err;
}

struct efvi_emu_nic *emu_packet_port(int ifindex, const char *ifname)
{
    char name[IF_NAMESIZE];
    if (ifname) {
        unsigned i = if_nametoindex(ifname);
        if (!i || i > INT32_MAX) return NULL;
        ifindex = (int)i;
    } else if (ifindex <= 0 || !if_indextoname((unsigned)ifindex, name)) {
        return NULL;
    } else {
        ifname = name;
    }
    /* Programs that cannot call the control API (interop tests) set it up from outside. */
    const char *strict = getenv("EFVI_EMU_STRICT");
    if (strict && *strict) g_strict = true;
    efvi_emu_nic_config c;
    if (g_default_set)
        c = g_default_cfg;
    else
        efvi_emu_nic_config_default(&c);
    const char *stats = getenv("EFVI_EMU_STATS");
    const char *arch = getenv("EFVI_EMU_ARCH");
    if (arch && strcmp(arch, "efct") == 0) c.arch = EF_VI_ARCH_EFCT;
    if (arch && strcmp(arch, "ef10") == 0) c.arch = EF_VI_ARCH_EF10;
    struct efvi_emu_nic *nic;
    const char *err = packet_create(ifname, ifindex, &c, &nic);
    if (err) {
        /* Test programs only: ef_pd_alloc's errno cannot say why. */
        fprintf(stderr, "ef_vi emulator: no AF_PACKET port on %s: %s\n", ifname, err);
        return NULL;
    }
    nic->report_on_close = stats && *stats;
    return nic;
}

void efvi_emu_nic_put(efvi_emu_nic *nic)
{
    if (!nic) return;
    if (--nic->refs <= 0) nic_free(nic);
}

int efvi_emu_wire_attach(efvitcp_wire *w, const char *name, int *ifindex_out)
{
    if (!w) return -EINVAL;
    struct efvi_emu_nic *nic = emu_nic_by_name(w, name);
    if (nic) {
        nic->refs++;
    } else {
        if (efvi_emu_nic_create(w, name, g_default_set ? &g_default_cfg : NULL, &nic))
            return -ENODEV;
    }
    if (ifindex_out) *ifindex_out = nic->ifindex;
    return 0;
}

void efvi_emu_wire_release(const efvitcp_wire *w, const char *name)
{
    if (w) efvi_emu_nic_put(emu_nic_by_name(w, name));
}

void efvi_emu_set_faults(efvi_emu_nic *nic, const efvi_emu_faults *f)
{
    if (!nic) return;
    if (f)
        nic->faults = *f;
    else
        memset(&nic->faults, 0, sizeof(nic->faults));
}

static void nic_reset(efvi_emu_nic *nic, bool keep_events)
{
    if (!nic) return;
    for (int i = 0; i < EMU_MAX_VIS; i++) {
        emu_vi *v = nic->vis[i];
        if (!v || v->dead) continue;
        v->dead = true;
        v->reset_pending = true;
        if (!keep_events) v->ev_count = 0; /* whatever the queues held is gone with the reset */
    }
}

void efvi_emu_reset(efvi_emu_nic *nic)
{
    nic_reset(nic, false);
}

void efvi_emu_reset_after_events(efvi_emu_nic *nic)
{
    nic_reset(nic, true);
}

void efvi_emu_tx_error(efvi_emu_nic *nic)
{
    if (nic) nic->tx_error_next = true;
}

void efvi_emu_get_stats(const efvi_emu_nic *nic, efvi_emu_stats *st)
{
    if (!st) return;
    if (!nic) {
        memset(st, 0, sizeof(*st));
        return;
    }
    /* The kernel keeps the ring's losses; reading them is not a change the caller can see. */
    if (nic->pkt) emu_packet_sync_stats((struct efvi_emu_nic *)nic);
    *st = nic->st;
    st->filters = nic->n_filters;
}

void efvi_emu_nic_addr(const efvi_emu_nic *nic, uint8_t mac[6], int *ifindex)
{
    if (!nic) return;
    if (mac) memcpy(mac, nic->mac, 6);
    if (ifindex) *ifindex = nic->ifindex;
}

uint64_t emu_nic_now(const struct efvi_emu_nic *nic)
{
    return (nic->pkt ? emu_packet_now() : efvitcp_wire_now(nic->w)) + EMU_TS_OFFSET;
}

bool emu_nic_send(struct efvi_emu_nic *nic, const uint8_t *frame, uint32_t len)
{
    if (nic->pkt) return emu_packet_send(nic, frame, len);
    et_wire_raw_send(nic->w, nic->port, frame, len);
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Checksums (receive validation and transmit offload)                                        */
/* ------------------------------------------------------------------------------------------ */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Offsets of an IPv4 frame: IP header length and total length, or false. */
static bool ipv4_layout(const uint8_t *f, uint32_t len, uint32_t *ihl, uint32_t *tot)
{
    if (len < 14 + 20 || rd16(f + 12) != 0x0800 || (f[14] >> 4) != 4) return false;
    *ihl = (f[14] & 15u) * 4u;
    *tot = rd16(f + 16);
    return *ihl >= 20;
}

/*
 * The NIC's own checksum arithmetic, independent of the library's (net/checksum.c): the emulator
 * must not share code with what it checks, and its work must not count as the stack's in the
 * benchmarks' attribution by source file. The folded ones'-complement sum of 16-bit words in
 * network order (RFC 1071 §4.1), an odd last byte padded with zero.
 */
static uint16_t nic_sum(const uint8_t *p, uint32_t len, uint32_t sum)
{
    for (uint32_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1) sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)sum;
}

static uint16_t l4_sum(const uint8_t *f, uint32_t ihl, uint32_t tot)
{
    const uint8_t *ip = f + 14;
    uint32_t pseudo =
        rd16(ip + 12) + rd16(ip + 14) + rd16(ip + 16) + rd16(ip + 18) + ip[9] + (tot - ihl);
    return nic_sum(ip + ihl, tot - ihl, pseudo);
}

/* Stores a checksum field: the complement of the sum, in network order. */
static void put_csum(uint8_t *p, uint16_t sum)
{
    uint16_t c = (uint16_t)~sum;
    p[0] = (uint8_t)(c >> 8);
    p[1] = (uint8_t)c;
}

static bool l4_checked(const uint8_t *f, uint32_t ihl, uint32_t tot)
{
    uint8_t proto = f[14 + 9];
    bool fragment = (rd16(f + 14 + 6) & 0x3fff) != 0;
    if (fragment) return false;
    if (proto == 6) return tot >= ihl + 20;
    if (proto == 17) return tot >= ihl + 8 && rd16(f + 14 + ihl + 6) != 0;
    return false;
}

unsigned emu_frame_csum_errors(const uint8_t *f, uint32_t len, bool *truncated)
{
    uint32_t ihl, tot;
    *truncated = false;
    if (!ipv4_layout(f, len, &ihl, &tot)) return 0;
    if (tot > len - 14 || tot < ihl) {
        /* A frame cut short (an underrun) would fail its FCS on a real link. */
        *truncated = tot > len - 14;
        return 0;
    }
    unsigned err = 0;
    if (nic_sum(f + 14, ihl, 0) != 0xffff) err |= EF_VI_DISCARD_RX_L3_CSUM_ERR;
    if (l4_checked(f, ihl, tot) && l4_sum(f, ihl, tot) != 0xffff)
        err |= EF_VI_DISCARD_RX_L4_CSUM_ERR;
    return err;
}

unsigned emu_rx_discards_supported(const struct efvi_emu_nic *nic)
{
    unsigned m = EF_VI_DISCARD_RX_ETH_FCS_ERR | EF_VI_DISCARD_RX_ETH_LEN_ERR;
    if (nic->cfg.rx_csum_check) m |= EF_VI_DISCARD_RX_L3_CSUM_ERR | EF_VI_DISCARD_RX_L4_CSUM_ERR;
    return m;
}

void emu_frame_csum_fill(uint8_t *f, uint32_t len, bool ip, bool l4)
{
    uint32_t ihl, tot;
    if (!ipv4_layout(f, len, &ihl, &tot) || tot > len - 14 || tot < ihl) return;
    if (ip) {
        memset(f + 14 + 10, 0, 2);
        put_csum(f + 14 + 10, nic_sum(f + 14, ihl, 0));
    }
    if (l4 && l4_checked(f, ihl, tot)) {
        uint32_t off = 14 + ihl + (f[14 + 9] == 6 ? 16 : 6);
        memset(f + off, 0, 2);
        uint16_t s = l4_sum(f, ihl, tot);
        /* UDP sends a zero checksum as all ones (RFC 768). */
        put_csum(f + off, f[14 + 9] == 17 && s == 0xffff ? 0 : s);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Filters                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static uint32_t ip_key_hash(uint8_t kind, uint8_t proto, uint32_t lip, uint16_t lport, uint32_t rip,
                            uint16_t rport)
{
    uint64_t h = ((uint64_t)lip << 32 | rip) * 0x9e3779b97f4a7c15ull;
    h ^= ((uint64_t)lport << 24 | (uint64_t)rport << 8 | proto) + kind;
    h *= 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 32);
}

static bool ip_key_eq(const emu_filter *f, uint8_t kind, uint8_t proto, uint32_t lip,
                      uint16_t lport, uint32_t rip, uint16_t rport)
{
    return f->kind == kind && f->proto == proto && f->lip == lip && f->lport == lport &&
           f->rip == rip && f->rport == rport;
}

static int ip_find(const struct efvi_emu_nic *nic, uint8_t kind, uint8_t proto, uint32_t lip,
                   uint16_t lport, uint32_t rip, uint16_t rport)
{
    uint32_t i = ip_key_hash(kind, proto, lip, lport, rip, rport) & nic->ip_index_mask;
    for (;;) {
        uint32_t e = nic->ip_index[i];
        if (!e) return -1;
        if (ip_key_eq(&nic->filt[e - 1], kind, proto, lip, lport, rip, rport)) return (int)e - 1;
        i = (i + 1) & nic->ip_index_mask;
    }
}

static void ip_index_insert(struct efvi_emu_nic *nic, uint32_t fi)
{
    const emu_filter *f = &nic->filt[fi];
    uint32_t i =
        ip_key_hash(f->kind, f->proto, f->lip, f->lport, f->rip, f->rport) & nic->ip_index_mask;
    while (nic->ip_index[i]) i = (i + 1) & nic->ip_index_mask;
    nic->ip_index[i] = fi + 1;
}

/* Linear probing deletion by backward shift: no tombstones, so lookups stay short. */
static void ip_index_remove(struct efvi_emu_nic *nic, uint32_t fi)
{
    uint32_t m = nic->ip_index_mask;
    uint32_t i = 0;
    const emu_filter *f = &nic->filt[fi];
    i = ip_key_hash(f->kind, f->proto, f->lip, f->lport, f->rip, f->rport) & m;
    while (nic->ip_index[i] != fi + 1) {
        if (!nic->ip_index[i]) return;
        i = (i + 1) & m;
    }
    nic->ip_index[i] = 0;
    for (uint32_t j = (i + 1) & m; nic->ip_index[j]; j = (j + 1) & m) {
        const emu_filter *g = &nic->filt[nic->ip_index[j] - 1];
        uint32_t home = ip_key_hash(g->kind, g->proto, g->lip, g->lport, g->rip, g->rport) & m;
        /* Move the entry back unless its home lies cyclically in (i, j]. */
        bool stays = (i < j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            nic->ip_index[i] = nic->ip_index[j];
            nic->ip_index[j] = 0;
            i = j;
        }
    }
}

static void unpack_mac(const ef_filter_spec *s, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) mac[i] = (uint8_t)(s->data[5 + i / 4] >> (8 * (i % 4)));
}

int emu_filter_add(struct efvi_emu_nic *nic, emu_vi *v, const ef_filter_spec *spec,
                   ef_filter_cookie *cookie)
{
    unsigned t = spec->type;
    emu_filter nf;
    memset(&nf, 0, sizeof(nf));
    if (t & (EMU_F_FULL | EMU_F_LOCAL)) {
        nf.kind = (t & EMU_F_FULL) ? EMU_F_FULL : EMU_F_LOCAL;
        nf.proto = (uint8_t)spec->data[0];
        nf.lip = spec->data[1];
        nf.lport = (uint16_t)spec->data[2];
        if (nf.kind == EMU_F_FULL) {
            nf.rip = spec->data[3];
            nf.rport = (uint16_t)spec->data[4];
        }
    } else if (t & EMU_F_MAC) {
        nf.kind = EMU_F_MAC;
        unpack_mac(spec, nf.mac);
        if (t & EMU_F_ETHTYPE) nf.ethertype = (uint16_t)spec->data[8];
    } else {
        return -EINVAL;
    }
    uint64_t bit = 1ull << v->slot;
    int existing = -1;
    if (nf.kind == EMU_F_MAC) {
        /* MAC filters may have several subscribers (as multicast filters do on EF10): VIs that
           share a port each see its broadcasts. */
        for (uint32_t i = 0; i < nic->n_filt_slots && existing < 0; i++) {
            const emu_filter *f = &nic->filt[i];
            if (f->used && f->kind == EMU_F_MAC && memcmp(f->mac, nf.mac, 6) == 0 &&
                f->ethertype == nf.ethertype)
                existing = (int)i;
        }
        if (existing >= 0) {
            if (nic->filt[existing].subs & bit) return -EEXIST;
            nic->filt[existing].subs |= bit;
        }
    } else if (nic->faults.ip_filter_fail) {
        return -ENOSPC;
    } else if (ip_find(nic, nf.kind, nf.proto, nf.lip, nf.lport, nf.rip, nf.rport) >= 0) {
        return -EEXIST;
    } else if (nic->pkt) {
        int rc = emu_packet_filter_check(nic, nf.lip);
        if (rc) return rc;
    }
    if (existing < 0) {
        if (nic->n_filters >= nic->cfg.max_filters) return -ENOSPC;
        for (uint32_t i = 0; i < nic->n_filt_slots && existing < 0; i++)
            if (!nic->filt[i].used) existing = (int)i;
        if (existing < 0) return -ENOSPC;
        nf.used = true;
        nf.subs = bit;
        nic->filt[existing] = nf;
        if (nf.kind != EMU_F_MAC) ip_index_insert(nic, (uint32_t)existing);
        nic->n_filters++;
        if (nic->n_filters > nic->st.filters_max_seen) nic->st.filters_max_seen = nic->n_filters;
    }
    v->n_filters++;
    if (cookie) {
        cookie->filter_id = existing;
        cookie->filter_type = nf.kind;
    }
    return 0;
}

static void filter_unsub(struct efvi_emu_nic *nic, emu_vi *v, uint32_t fi)
{
    emu_filter *f = &nic->filt[fi];
    f->subs &= ~(1ull << v->slot);
    v->n_filters--;
    if (f->subs) return;
    if (f->kind != EMU_F_MAC) ip_index_remove(nic, fi);
    f->used = false;
    nic->n_filters--;
}

int emu_filter_del(struct efvi_emu_nic *nic, emu_vi *v, const ef_filter_cookie *cookie)
{
    if (!cookie || cookie->filter_id < 0 || (uint32_t)cookie->filter_id >= nic->n_filt_slots)
        return -EINVAL;
    emu_filter *f = &nic->filt[cookie->filter_id];
    if (!f->used || f->kind != cookie->filter_type || !(f->subs & (1ull << v->slot)))
        return -ENOENT;
    filter_unsub(nic, v, (uint32_t)cookie->filter_id);
    return 0;
}

void emu_filters_drop_vi(struct efvi_emu_nic *nic, emu_vi *v)
{
    uint64_t bit = 1ull << v->slot;
    for (uint32_t i = 0; i < nic->n_filt_slots && v->n_filters; i++)
        if (nic->filt[i].used && (nic->filt[i].subs & bit)) filter_unsub(nic, v, i);
    v->n_filters = 0;
}

/* The VIs a frame goes to: a full 4-tuple filter, else a local address and port filter, else
   every subscriber of each MAC filter it matches. */
static uint64_t steer(struct efvi_emu_nic *nic, const uint8_t *f, uint32_t len)
{
    uint32_t ihl, tot;
    if (ipv4_layout(f, len, &ihl, &tot) && len >= 14 + ihl + 4 &&
        (f[14 + 9] == 6 || f[14 + 9] == 17) && (rd16(f + 14 + 6) & 0x1fff) == 0) {
        uint8_t proto = f[14 + 9];
        uint32_t sip, dip;
        uint16_t sport, dport;
        memcpy(&sip, f + 14 + 12, 4);
        memcpy(&dip, f + 14 + 16, 4);
        memcpy(&sport, f + 14 + ihl, 2);
        memcpy(&dport, f + 14 + ihl + 2, 2);
        int fi = ip_find(nic, EMU_F_FULL, proto, dip, dport, sip, sport);
        if (fi < 0) fi = ip_find(nic, EMU_F_LOCAL, proto, dip, dport, 0, 0);
        if (fi >= 0) return nic->filt[fi].subs;
    }
    uint64_t subs = 0;
    uint16_t et;
    memcpy(&et, f + 12, 2);
    for (uint32_t i = 0; i < nic->n_filt_slots; i++) {
        const emu_filter *flt = &nic->filt[i];
        if (flt->used && flt->kind == EMU_F_MAC && memcmp(flt->mac, f, 6) == 0 &&
            (!flt->ethertype || flt->ethertype == et))
            subs |= flt->subs;
    }
    return subs;
}

/* ------------------------------------------------------------------------------------------ */
/* EFCT shared receive pool                                                                    */
/* ------------------------------------------------------------------------------------------ */

static uint32_t pkt_slot(const struct efvi_emu_nic *nic, uint32_t pkt_id, bool *ok)
{
    uint32_t slot = pkt_id & 0xffffffu;
    *ok = slot < nic->n_pkts && (pkt_id >> 24) == nic->pkt_gen[slot];
    return slot;
}

bool emu_efct_held(struct efvi_emu_nic *nic, const emu_vi *v, uint32_t pkt_id)
{
    bool ok;
    uint32_t slot = pkt_slot(nic, pkt_id, &ok);
    return ok && (nic->pkt_holders[slot] & (1ull << v->slot));
}

const void *efct_vi_rxpkt_get(struct ef_vi *vi, uint32_t pkt_id)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v || !v->efct) {
        emu_violation(v ? v->nic : NULL, "efct_vi_rxpkt_get on a VI that is not EFCT");
        return NULL;
    }
    struct efvi_emu_nic *nic = v->nic;
    bool ok;
    uint32_t slot = pkt_slot(nic, pkt_id, &ok);
    if (!ok || !(nic->pkt_holders[slot] & (1ull << v->slot))) {
        emu_violation(nic, "efct_vi_rxpkt_get of a packet this VI does not hold");
        return NULL;
    }
    return nic->pool + (size_t)slot * 2048;
}

int efct_vi_rxpkt_get_timestamp(struct ef_vi *vi, uint32_t pkt_id, ef_timespec *ts_out,
                                unsigned *flags_out)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v || !v->efct || !emu_efct_held(v->nic, v, pkt_id)) {
        emu_violation(v ? v->nic : NULL, "efct_vi_rxpkt_get_timestamp of a packet not held");
        return -EINVAL;
    }
    if (!(v->flags & EF_VI_RX_TIMESTAMPS)) return -ENODATA;
    uint64_t ns = v->nic->pkt_ts[pkt_id & 0xffffffu];
    if (ts_out) {
        ts_out->tv_sec = (time_t)(ns / 1000000000ull);
        ts_out->tv_nsec = (long)(ns % 1000000000ull);
    }
    if (flags_out) *flags_out = EF_VI_SYNC_FLAG_CLOCK_SET | EF_VI_SYNC_FLAG_CLOCK_IN_SYNC;
    return 0;
}

static void pkt_unref(struct efvi_emu_nic *nic, uint32_t slot)
{
    nic->pkt_refs[slot]--;
    nic->sb_refs[slot / nic->cfg.efct_superbuf_pkts]--;
}

void efct_vi_rxpkt_release(struct ef_vi *vi, uint32_t pkt_id)
{
    emu_vi *v = vi ? vi->emu : NULL;
    if (!v || !v->efct) {
        emu_violation(v ? v->nic : NULL, "efct_vi_rxpkt_release on a VI that is not EFCT");
        return;
    }
    struct efvi_emu_nic *nic = v->nic;
    bool ok;
    uint32_t slot = pkt_slot(nic, pkt_id, &ok);
    uint64_t bit = 1ull << v->slot;
    if (!ok || !(nic->pkt_holders[slot] & bit)) {
        emu_violation(nic, "efct_vi_rxpkt_release of a packet this VI does not hold");
        return;
    }
    nic->pkt_holders[slot] &= ~bit;
    v->efct_held--;
    pkt_unref(nic, slot);
}

const void *efct_vi_rx_future_peek(struct ef_vi *vi)
{
    (void)vi;
    return NULL;
}

void emu_efct_drop_vi(struct efvi_emu_nic *nic, emu_vi *v)
{
    uint64_t bit = 1ull << v->slot;
    for (uint32_t s = 0; s < nic->n_pkts && v->efct_held; s++) {
        if (nic->pkt_holders[s] & bit) {
            nic->pkt_holders[s] &= ~bit;
            v->efct_held--;
            pkt_unref(nic, s);
        }
    }
    v->efct_held = 0;
}

/*
 * The next packet buffer: buffers fill a superbuf in order, and the NIC moves to the next
 * superbuf only when every packet of it was released by every VI, so one packet held too long
 * stalls reception (UG1523).
 */
static int efct_alloc(struct efvi_emu_nic *nic, uint32_t *slot_out)
{
    uint32_t per = nic->cfg.efct_superbuf_pkts;
    if (nic->cur_idx == per) {
        uint32_t next = (nic->cur_sb + 1) % nic->cfg.efct_superbufs;
        if (nic->sb_refs[next]) return -1;
        nic->cur_sb = next;
        nic->cur_idx = 0;
    }
    *slot_out = nic->cur_sb * per + nic->cur_idx++;
    return 0;
}

static void rx_efct(struct efvi_emu_nic *nic, uint64_t targets, const uint8_t *f, uint32_t len,
                    uint64_t ts)
{
    uint64_t live = 0;
    for (int i = 0; i < EMU_MAX_VIS; i++) {
        emu_vi *v = nic->vis[i];
        /* A shared queue: every VI attached to it by any filter sees every packet. */
        if (v && !v->dead && v->efct && v->n_filters) live |= 1ull << i;
    }
    (void)targets;
    if (!live) return;
    uint32_t slot;
    if (nic->faults.rx_starve || len > 2048 || efct_alloc(nic, &slot) != 0) {
        nic->st.rx_nodesc++;
        return;
    }
    memcpy(nic->pool + (size_t)slot * 2048, f, len);
    nic->pkt_gen[slot]++;
    nic->pkt_len[slot] = (uint16_t)len;
    nic->pkt_ts[slot] = ts;
    bool truncated = false;
    /* The FCS is checked whether or not checksums are: a poisoned copy (cut short) is CRC_BAD.
       Each VI's discard mask decides whether a checksum error is a discard for it. */
    unsigned csum_err = emu_frame_csum_errors(f, len, &truncated);
    bool crc =
        truncated || (nic->faults.rx_discard > 0 &&
                      (double)(et_rng_next(&nic->rng) >> 11) * 0x1p-53 < nic->faults.rx_discard);
    uint32_t pkt_id = (uint32_t)nic->pkt_gen[slot] << 24 | slot;
    for (int i = 0; i < EMU_MAX_VIS; i++) {
        if (!(live & (1ull << i))) continue;
        emu_vi *v = nic->vis[i];
        ef_event ev;
        memset(&ev, 0, sizeof(ev));
        unsigned bad_csum = csum_err & v->vi->rx_discard_mask;
        if (crc || bad_csum) {
            ev.rx_ref_discard.type = EF_EVENT_TYPE_RX_REF_DISCARD;
            ev.rx_ref_discard.flags = crc ? EF_VI_DISCARD_RX_ETH_FCS_ERR : bad_csum;
            if (crc)
                nic->st.rx_discard_crc++;
            else
                nic->st.rx_discard_csum++;
        } else {
            ev.rx_ref.type = EF_EVENT_TYPE_RX_REF;
            nic->st.rx_events++;
        }
        ev.rx_ref.len = len;
        ev.rx_ref.pkt_id = pkt_id;
        ev.rx_ref.q_id = 0;
        nic->pkt_refs[slot]++;
        nic->sb_refs[slot / nic->cfg.efct_superbuf_pkts]++;
        nic->pkt_holders[slot] |= 1ull << i;
        v->efct_held++;
        emu_vi_push_event(v, &ev);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Receive                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void rx_frame(struct efvi_emu_nic *nic, const uint8_t *f, uint32_t len)
{
    nic->st.rx_frames++;
    if (len < 14) return;
    uint64_t targets = steer(nic, f, len);
    if (!targets) {
        nic->st.rx_to_kernel++;
        return;
    }
    uint64_t ts = emu_nic_now(nic);
    if (nic->cfg.arch == EF_VI_ARCH_EFCT) {
        rx_efct(nic, targets, f, len, ts);
        return;
    }
    for (int i = 0; i < EMU_MAX_VIS; i++)
        if ((targets & (1ull << i)) && nic->vis[i]) emu_vi_rx_ef10(nic->vis[i], f, len, ts);
}

bool emu_nic_service_one(struct efvi_emu_nic *nic)
{
    /* A VI polled from inside a delivery must not receive frames out of order. */
    if (nic->in_service || (!nic->w && !nic->pkt)) return false;
    nic->in_service = true;
    bool got;
    if (nic->pkt) {
        uint8_t *f;
        uint32_t len;
        got = emu_packet_rx(nic, &f, &len);
        if (got) {
            rx_frame(nic, f, len);
            emu_packet_rx_done(nic);
        }
    } else {
        int n = et_wire_raw_recv(nic->w, nic->port, nic->frame, sizeof(nic->frame));
        got = n > 0;
        if (got) rx_frame(nic, nic->frame, (uint32_t)n);
    }
    nic->in_service = false;
    return got;
}

uint32_t efvi_emu_nic_drain(efvi_emu_nic *nic)
{
    if (!nic || !nic->w) return 0;
    for (int i = 0; i < EMU_MAX_VIS; i++)
        if (nic->vis[i]) return 0;
    uint32_t n = 0;
    while (emu_nic_service_one(nic)) n++;
    return n;
}
