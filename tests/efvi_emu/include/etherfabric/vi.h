/* ef_vi emulator: etherfabric/vi.h (VI allocation, MAC, MTU, filters). See ef_vi.h. */
#ifndef EFVI_EMU_VI_H
#define EFVI_EMU_VI_H

#include <etherfabric/ef_vi.h>
#include <etherfabric/base.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ef_pd;

/**
 * Capacities: -1 the default (512), 0 none, otherwise rounded up to a supported ring size (EF10:
 * RX 512..4096, TX 512..2048, event queue 512..32768; EFCT: TX exactly 512, no RX ring). Returns
 * the queue id (>= 0) or a negative errno.
 */
extern int ef_vi_alloc_from_pd(ef_vi *vi, ef_driver_handle vi_dh, struct ef_pd *pd,
                               ef_driver_handle pd_dh, int evq_capacity, int rxq_capacity,
                               int txq_capacity, ef_vi *evq_opt, ef_driver_handle evq_dh,
                               enum ef_vi_flags flags);
extern int ef_vi_free(ef_vi *vi, ef_driver_handle nic);
/** Largest frame (all headers, no FCS) the VI sends and receives. */
extern unsigned ef_vi_mtu(ef_vi *vi, ef_driver_handle vi_dh);
extern int ef_vi_get_mac(ef_vi *vi, ef_driver_handle vi_dh, void *mac_out);
extern int ef_vi_prime(ef_vi *vi, ef_driver_handle dh, unsigned current_ptr);

enum ef_filter_flags {
    EF_FILTER_FLAG_NONE = 0x0,
    EF_FILTER_FLAG_MCAST_LOOP_RECEIVE = 0x2,
};

typedef struct {
    unsigned type;
    unsigned flags;
    unsigned data[12];
} ef_filter_spec;

enum {
    EF_FILTER_VLAN_ID_ANY = -1,
};

typedef struct {
    int filter_id;
    int filter_type;
} ef_filter_cookie;

extern void ef_filter_spec_init(ef_filter_spec *filter_spec, enum ef_filter_flags flags);
/** Addresses and ports in network byte order; -EPROTONOSUPPORT if the spec has an IP match. */
extern int ef_filter_spec_set_ip4_local(ef_filter_spec *filter_spec, int protocol,
                                        unsigned host_be32, int port_be16);
extern int ef_filter_spec_set_ip4_full(ef_filter_spec *filter_spec, int protocol,
                                       unsigned host_be32, int port_be16, unsigned rhost_be32,
                                       int rport_be16);
extern int ef_filter_spec_set_eth_local(ef_filter_spec *filter_spec, int vlan_id, const void *mac);
/** Combines with a MAC match only. */
extern int ef_filter_spec_set_eth_type(ef_filter_spec *filter_spec, uint16_t ether_type_be16);
extern int ef_vi_filter_add(ef_vi *vi, ef_driver_handle vi_dh, const ef_filter_spec *filter_spec,
                            ef_filter_cookie *filter_cookie_out);
extern int ef_vi_filter_del(ef_vi *vi, ef_driver_handle vi_dh, ef_filter_cookie *filter_cookie);

#ifdef __cplusplus
}
#endif

#endif
