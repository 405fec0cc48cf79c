/* The header's version macros equal project(VERSION) (passed by tests/CMakeLists.txt), and the
   library reports the same version: the header is not generated, so this keeps them in sync. */
#include <stdio.h>

#include "harness.h"

#include "efvitcp/efvitcp.h"

static void test_version(void)
{
    CHECK_EQ(EFVITCP_VERSION_MAJOR, EFVITCP_PROJECT_VERSION_MAJOR);
    CHECK_EQ(EFVITCP_VERSION_MINOR, EFVITCP_PROJECT_VERSION_MINOR);
    CHECK_EQ(EFVITCP_VERSION_PATCH, EFVITCP_PROJECT_VERSION_PATCH);
    CHECK(strcmp(EFVITCP_VERSION_STRING, EFVITCP_PROJECT_VERSION) == 0);
    CHECK(strcmp(efvitcp_version(), EFVITCP_PROJECT_VERSION) == 0);
    CHECK_EQ(efvitcp_version_number(), EFVITCP_VERSION_NUMBER);
    char s[32];
    snprintf(s, sizeof(s), "%d.%d.%d", EFVITCP_VERSION_MAJOR, EFVITCP_VERSION_MINOR,
             EFVITCP_VERSION_PATCH);
    CHECK(strcmp(s, EFVITCP_VERSION_STRING) == 0);
    CHECK_EQ(EFVITCP_VERSION_NUMBER, EFVITCP_VERSION_MAJOR * 1000000 +
                                         EFVITCP_VERSION_MINOR * 1000 + EFVITCP_VERSION_PATCH);
#if EFVITCP_VERSION_NUMBER < 1000 /* usable in #if */
#error "EFVITCP_VERSION_NUMBER is not a preprocessor number"
#endif
}

int main(void)
{
    RUN(test_version);
    return th_summary();
}
