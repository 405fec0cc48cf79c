/*
 * Configuration validation (src/api/config.c): the sizes whose product init allocates (and, with
 * prefault, touches) are bounded, so that a configuration the machine cannot hold gets an error
 * from init instead of the process being killed for memory. The checks are called directly: an
 * init with such a configuration, before they existed, would have tried the allocation.
 */
#include <string.h>

#include "harness.h"

#include "api/config.h"

#define GIB (1ull << 30)

static efvitcp_config base(void)
{
    efvitcp_config cfg;
    efvitcp_config_default(&cfg);
    return cfg;
}

/* err names what is wrong: the message carries want. */
static bool says(const char *err, const char *want)
{
    return err && strstr(err, want);
}

static void test_defaults_valid(void)
{
    efvitcp_config cfg = base();
    CHECK_NULL_ERR(et_config_validate(&cfg));
}

/* Receive buffers: max_conns * recv_buf_size up to 64 GiB. */
static void test_recv_buffers_total(void)
{
    efvitcp_config cfg = base();
    cfg.max_conns = 1u << 16;
    cfg.recv_buf_size = 1u << 20; /* 64 GiB: the bound itself */
    CHECK_NULL_ERR(et_config_validate(&cfg));
    cfg.max_conns++;
    CHECK(says(et_config_validate(&cfg), "max_conns * recv_buf_size exceeds 64 GiB"));
}

/* User data: max_conns * user_data_size up to 64 GiB (each knob alone allows 1 TiB). */
static void test_user_data_total(void)
{
    efvitcp_config cfg = base();
    cfg.max_conns = 1u << 16;
    cfg.recv_buf_size = 1024;
    cfg.send_slots = 4;
    cfg.user_data_size = 1u << 20; /* 64 GiB */
    CHECK_NULL_ERR(et_config_validate(&cfg));
    cfg.max_conns++;
    CHECK(says(et_config_validate(&cfg), "max_conns * user_data_size exceeds 64 GiB"));
    cfg.max_conns = 1u << 20; /* both at their maximum: 1 TiB */
    CHECK(says(et_config_validate(&cfg), "max_conns * user_data_size exceeds 64 GiB"));
}

/* Transmit timestamp reports: max_conns * tx_timestamps reports of 24 bytes up to 64 GiB (each
   knob alone allows 1.5 TiB). */
static void test_tx_timestamps_total(void)
{
    CHECK_EQ(sizeof(efvitcp_tx_report), 24);
    efvitcp_config cfg = base();
    cfg.recv_buf_size = 1024;
    cfg.send_slots = 4;
    cfg.max_conns = (uint32_t)(64 * GIB / 24 / 65536); /* 43690 queues of 65536: < 64 GiB */
    cfg.tx_timestamps = 65536;
    CHECK_NULL_ERR(et_config_validate(&cfg));
    cfg.max_conns++;
    CHECK(says(et_config_validate(&cfg), "max_conns * tx_timestamps"));
    CHECK(says(et_config_validate(&cfg), "64 GiB"));
    cfg.max_conns = 1u << 20;
    CHECK(says(et_config_validate(&cfg), "max_conns * tx_timestamps"));
    cfg.tx_timestamps = 0; /* off: no reports, whatever max_conns */
    CHECK_NULL_ERR(et_config_validate(&cfg));
}

/* Send buffers: max_conns * send_slots slots of 2 KiB (1 KiB with send_buf_1k) up to 64 GiB, on
   top of the 2^26 slots that bound them in number (128 GiB of 2 KiB ones, pinned on efvi and
   xdp). */
static void test_send_buffers_total(void)
{
    efvitcp_config cfg = base();
    cfg.recv_buf_size = 1024;
    cfg.max_conns = 1u << 15;
    cfg.send_slots = 1u << 10; /* 2^25 slots of 2 KiB: 64 GiB */
    CHECK_NULL_ERR(et_config_validate(&cfg));
    cfg.send_slots = 1u << 11; /* 2^26 slots: 128 GiB */
    CHECK(says(et_config_validate(&cfg), "max_conns * send_slots"));
    CHECK(says(et_config_validate(&cfg), "64 GiB"));
    cfg.send_buf_1k = true; /* 2^26 slots of 1 KiB: 64 GiB */
    CHECK_NULL_ERR(et_config_validate(&cfg));
    cfg.send_slots = 1u << 12; /* past 2^26 slots, whatever their size */
    CHECK(says(et_config_validate(&cfg), "exceeds 2^26 send buffers"));
}

int main(void)
{
    RUN(test_defaults_valid);
    RUN(test_recv_buffers_total);
    RUN(test_user_data_total);
    RUN(test_tx_timestamps_total);
    RUN(test_send_buffers_total);
    return th_summary();
}
