/* Configuration defaults and validation: every knob has a documented default and a range, and a
   value outside it is reported by name, never silently corrected. */
#include "api/config.h"

#include <string.h>

#include "util/abi.h"

static void config_default(efvitcp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_conns = 64;
    cfg->send_slots = 256;
    cfg->send_buf_1k = false;
    cfg->recv_buf_size = 65536;
    cfg->max_time_wait = 1024;
    cfg->rx_bufs = 512;
    cfg->ctrl_bufs = 64;
    cfg->ooo_ranges = 8;
    cfg->prefault = true;
    cfg->syn_retries = 5;
    cfg->max_half_open = 0; /* = max_conns */
    cfg->syn_cookies = EFVITCP_SYN_COOKIES_WHEN_SHORT;
    cfg->data_retries = 10;
    cfg->delayed_ack_us = 1000;
    cfg->min_rto_us = 5000;
    cfg->max_rto_us = 60000000;
    cfg->initial_rto_us = 1000000;
    cfg->window_scale = true;
    cfg->timestamps = true;
    cfg->fast_path = true;
    cfg->cc = EFVITCP_CC_CUBIC;
    cfg->time_wait_ms = 60000;
    cfg->keepalive_ms = 0;
    cfg->slow_start_after_idle = true;
    cfg->fin_wait2_timeout_ms = 60000;
    cfg->sack = true;
    cfg->rack = true;
    cfg->initial_window = 10;
    cfg->keepalive_intvl_ms = 1000;
    cfg->keepalive_probes = 5;
    cfg->user_timers = 4;
    cfg->ephemeral_min = 32768;
    cfg->ephemeral_max = 60999;
    cfg->stat_shm = true;
    cfg->stat_interval_ms = 100;
    cfg->stat_max_conns = 1024;
}

void efvitcp_config_default_sized(efvitcp_config *cfg, size_t size)
{
    if (!cfg) return;
    efvitcp_config d;
    config_default(&d);
    et_abi_write(cfg, size, &d, sizeof(d));
}

const char *et_config_read(efvitcp_config *out, const efvitcp_config *cfg, size_t cfg_size)
{
    config_default(out);
    if (cfg && !et_abi_read(out, sizeof(*out), cfg, cfg_size))
        return "config: set fields that this (older) efvitcp library does not know; see "
               "efvitcp_version()";
    return NULL;
}

/* Compared as 64-bit so that a lower bound of 0 is not a tautology the compiler warns about. */
#define RANGE(field, lo, hi)                                                                       \
    do {                                                                                           \
        if ((int64_t)cfg->field < (int64_t)(lo) || (int64_t)cfg->field > (int64_t)(hi))            \
            return "config: " #field " out of range [" #lo ", " #hi "]";                           \
    } while (0)

const char *et_config_validate(const efvitcp_config *cfg)
{
    RANGE(max_conns, 1, 1u << 20);
    RANGE(send_slots, 4, 65536);
    if (cfg->send_slots & (cfg->send_slots - 1)) return "config: send_slots must be a power of two";
    RANGE(recv_buf_size, 1024, 1u << 30);
    RANGE(max_time_wait, 0, 1u << 20);
    RANGE(rx_bufs, 16, 65536);
    RANGE(ctrl_bufs, 4, 65536);
    RANGE(ooo_ranges, 1, 64);
    RANGE(syn_retries, 0, 30);
    if (cfg->max_half_open > cfg->max_conns) return "config: max_half_open must be <= max_conns";
    if (cfg->syn_cookies != EFVITCP_SYN_COOKIES_OFF &&
        cfg->syn_cookies != EFVITCP_SYN_COOKIES_WHEN_SHORT &&
        cfg->syn_cookies != EFVITCP_SYN_COOKIES_ALWAYS)
        return "config: syn_cookies must be EFVITCP_SYN_COOKIES_OFF, _WHEN_SHORT or _ALWAYS";
    RANGE(data_retries, 1, 30);
    RANGE(delayed_ack_us, 0, 500000);
    RANGE(min_rto_us, 100, 0xffffffffu);
    if (cfg->max_rto_us < cfg->min_rto_us) return "config: max_rto_us must be >= min_rto_us";
    if (cfg->initial_rto_us < cfg->min_rto_us || cfg->initial_rto_us > cfg->max_rto_us)
        return "config: initial_rto_us must lie within [min_rto_us, max_rto_us]";
    if (cfg->cc != EFVITCP_CC_NONE && cfg->cc != EFVITCP_CC_NEWRENO && cfg->cc != EFVITCP_CC_CUBIC)
        return "config: cc must be EFVITCP_CC_NONE, _NEWRENO or _CUBIC";
    RANGE(keepalive_intvl_ms, 1, 0xffffffffu);
    RANGE(initial_window, 0, 64);
    RANGE(keepalive_probes, 1, 255);
    if (cfg->mss != 0 && cfg->mss < 88) return "config: mss must be 0 (auto) or >= 88";
    RANGE(user_timers, 0, 64);
    RANGE(user_data_size, 0, 1u << 20);
    RANGE(tx_timestamps, 0, 65536);
    if (cfg->ephemeral_min == 0 || cfg->ephemeral_max < cfg->ephemeral_min)
        return "config: ephemeral port range is empty";
    if (cfg->stat_shm) RANGE(stat_interval_ms, 1, 3600000);
    RANGE(stat_max_conns, 0, 1u << 20);
    /* What init allocates per connection is bounded in total too, each knob alone allowing
       terabytes: prefault touches it all (send buffers are pinned memory on efvi and xdp), so a
       configuration the machine cannot hold must be an error here, not a process the kernel
       kills for memory. */
    if ((uint64_t)cfg->max_conns * cfg->send_slots > (1u << 26))
        return "config: max_conns * send_slots exceeds 2^26 send buffers";
    if ((uint64_t)cfg->max_conns * cfg->send_slots * (cfg->send_buf_1k ? 1024u : 2048u) >
        (1ull << 36))
        return "config: max_conns * send_slots send buffers (2 KiB each, 1 KiB with send_buf_1k) "
               "exceed 64 GiB";
    if ((uint64_t)cfg->max_conns * cfg->recv_buf_size > (1ull << 36))
        return "config: max_conns * recv_buf_size exceeds 64 GiB";
    if ((uint64_t)cfg->max_conns * cfg->user_data_size > (1ull << 36))
        return "config: max_conns * user_data_size exceeds 64 GiB";
    _Static_assert(sizeof(efvitcp_tx_report) == 24, "the error below says 24 bytes");
    if ((uint64_t)cfg->max_conns * cfg->tx_timestamps * sizeof(efvitcp_tx_report) > (1ull << 36))
        return "config: max_conns * tx_timestamps reports (24 bytes each) exceed 64 GiB";
    return NULL;
}
