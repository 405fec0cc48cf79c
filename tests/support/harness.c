#include "harness.h"

int th_failures, th_passed, th_failed;

void th_run(const char *name, void (*fn)(void))
{
    th_failures = 0;
    fn();
    if (th_failures) {
        th_failed++;
        fprintf(stderr, "FAIL %s\n", name);
    } else {
        th_passed++;
        printf("ok   %s\n", name);
    }
}

int th_summary(void)
{
    printf("%d passed, %d failed\n", th_passed, th_failed);
    return th_failed ? 1 : 0;
}
