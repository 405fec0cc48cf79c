#ifndef EFVITCP_API_CONFIG_H
#define EFVITCP_API_CONFIG_H

#include "efvitcp/efvitcp.h"

/**
 * The caller's config (cfg_size bytes, NULL = the defaults) as this library's struct in *out:
 * fields beyond an older caller's struct take their defaults. NULL, or an error when a newer
 * caller set fields that this library does not know.
 */
const char *et_config_read(efvitcp_config *out, const efvitcp_config *cfg, size_t cfg_size);
/** NULL if every field of cfg is within its documented range, else what is wrong. */
const char *et_config_validate(const efvitcp_config *cfg);

#endif
