/* Target (b): live connections driven by a byte program of segments, time and API calls
   (tests/fuzz/fz.h, FZ_PROGRAM). */
#include "fz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run(data, size, FZ_PROGRAM);
    return 0;
}
