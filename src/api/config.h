#ifndef EFVITCP_API_CONFIG_H
#define EFVITCP_API_CONFIG_H

#include "efvitcp/efvitcp.h"

/** NULL if every field of cfg is within its documented range, else what is wrong. */
const char *et_config_validate(const efvitcp_config *cfg);

#endif
