/* fuzz_pair: two instances (a server and a client) connected over the wire, a program of API
   calls, time and segments spoofed into their connections (tests/fuzz/fz.h, FZ_PAIR). */
#include "fz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run(data, size, FZ_PAIR);
    return 0;
}
