/* The packet link's ring frame size for an interface MTU (et_packet_frame_size): a power of two
   from 2048 holding the ring header (128 bytes of slack), the Ethernet header and the frame, and
   a clear refusal above a ring block. An MTU near 2^31 (a dummy interface has no limit) once
   wrapped the doubling to 0 and hung the open. */
#include "harness.h"

#include "link/link.h"

static void test_sizes(void)
{
    CHECK_EQ(et_packet_frame_size(68), 2048);
    CHECK_EQ(et_packet_frame_size(1500), 2048);
    CHECK_EQ(et_packet_frame_size(2048 - 14 - 128), 2048);
    CHECK_EQ(et_packet_frame_size(2048 - 14 - 128 + 1), 4096);
    CHECK_EQ(et_packet_frame_size(9000), 16384);
    CHECK_EQ(et_packet_frame_size(65536 - 14 - 128), 65536);
}

static void test_too_large(void)
{
    CHECK_EQ(et_packet_frame_size(65536 - 14 - 128 + 1), 0);
    CHECK_EQ(et_packet_frame_size(1u << 30), 0);
    CHECK_EQ(et_packet_frame_size(2147483647u), 0); /* returns: no wrap to 0 and no loop */
    CHECK_EQ(et_packet_frame_size(0xffffffffu), 0);
}

int main(void)
{
    RUN(test_sizes);
    RUN(test_too_large);
    return th_summary();
}
