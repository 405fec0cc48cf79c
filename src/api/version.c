/* The library's version: the header's, as this library was compiled with it (the test
   unit/test_version keeps the header equal to project(VERSION)). */
#include "efvitcp/efvitcp.h"

const char *efvitcp_version(void)
{
    return EFVITCP_VERSION_STRING;
}

uint32_t efvitcp_version_number(void)
{
    return EFVITCP_VERSION_NUMBER;
}
