/*
 * The XDP program of the xdp link. It steers to the AF_XDP socket only what belongs to efvitcp:
 * TCP segments for our address whose destination port is listening (et_listen, a bitmap) or whose
 * (remote ip, remote port, local port) is a connected flow (et_conns); with an address the kernel
 * does not own, also ARP for that address and every TCP segment for it. Everything else (other
 * addresses, ports, protocols, non-first fragments) goes on to the kernel untouched.
 *
 * Built with clang -target bpf at build time and embedded in the library. Every read is bounds-
 * checked against data_end: the verifier refuses the program otherwise, and hostile frames of any
 * length must fall through to XDP_PASS rather than be misparsed.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xdp_prog.h"

/* Sizes are placeholders: the link sets them from the config before loading. */
struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, ET_XDP_MAX_QUEUES);
    __type(key, __u32);
    __type(value, __u32);
} et_xsks SEC(".maps");

/* Listening ports, a bitmap (xdp_prog.h): a hash map would cap the number of ports. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, ET_XDP_LISTEN_WORDS);
    __type(key, __u32);
    __type(value, __u64);
} et_listen SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, struct et_xdp_conn_key);
    __type(value, __u8);
} et_conns SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct et_xdp_cfg);
} et_cfg SEC(".maps");

/* Set (before load) only by the program's own test: a frame that would be redirected returns
   XDP_TX instead, so BPF_PROG_TEST_RUN can see the decision without a socket in et_xsks. */
volatile const __u32 et_test_mode = 0;

#define ARP_LEN 28 /* RFC 826 for Ethernet/IPv4 */

static __always_inline int steer(struct xdp_md *ctx)
{
    if (et_test_mode) return XDP_TX;
    /* XDP_PASS as the fallback: a queue with no socket bound gives the frame to the kernel. */
    return bpf_redirect_map(&et_xsks, ctx->rx_queue_index, XDP_PASS);
}

SEC("xdp")
int et_xdp_steer(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end) return XDP_PASS;

    __u32 zero = 0;
    struct et_xdp_cfg *cfg = bpf_map_lookup_elem(&et_cfg, &zero);
    if (!cfg || cfg->local_ip == 0) return XDP_PASS;

    if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
        if (!(cfg->flags & ET_XDP_F_ARP)) return XDP_PASS;
        __u8 *a = (void *)(eth + 1);
        if ((void *)(a + ARP_LEN) > end) return XDP_PASS;
        /* htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4; anything else is not for us. */
        if (a[0] != 0 || a[1] != 1 || a[2] != 0x08 || a[3] != 0 || a[4] != 6 || a[5] != 4)
            return XDP_PASS;
        __u32 tpa;
        __builtin_memcpy(&tpa, a + 24, 4);
        return tpa == cfg->local_ip ? steer(ctx) : XDP_PASS;
    }
    if (eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;

    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end) return XDP_PASS;
    if (ip->version != 4 || ip->ihl < 5 || ip->protocol != IPPROTO_TCP) return XDP_PASS;
    if (ip->daddr != cfg->local_ip) return XDP_PASS;
    /* A non-first fragment has no TCP header; the first one of ours is taken (and dropped by
       the stack), so the kernel can never reassemble our segment and answer it with a RST. */
    if (ip->frag_off & bpf_htons(0x1fff)) return XDP_PASS;

    __u32 ihl = ip->ihl * 4u;
    struct tcphdr *tcp = (void *)ip + ihl;
    if ((void *)tcp + 4 > end) return XDP_PASS; /* the ports are all we read */

    if (cfg->flags & ET_XDP_F_ALL_TCP) return steer(ctx);
    struct et_xdp_conn_key k = {
        .remote_ip = ip->saddr,
        .remote_port = tcp->source,
        .local_port = tcp->dest,
    };
    if (bpf_map_lookup_elem(&et_conns, &k)) return steer(ctx);
    __u32 port = bpf_ntohs(tcp->dest), word = port >> 6;
    __u64 *bits = bpf_map_lookup_elem(&et_listen, &word);
    if (bits && (*bits >> (port & 63)) & 1) return steer(ctx);
    return XDP_PASS;
}

char _license[] SEC("license") = "Dual BSD/GPL";
