/* Target (c), efvi: target (b) with the stack on the efvi link over the ef_vi emulator and NIC
   faults at moments the program picks (tests/fuzz/fz.c, FZ_EFVI). */
#include "fz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run(data, size, FZ_PROGRAM);
    return 0;
}
