/* Target (a): frames of every kind at a stack in every state (tests/fuzz/fz.h, FZ_FRAMES). */
#include "fz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run(data, size, FZ_FRAMES);
    return 0;
}
