/* Picks the link that an interface string names. */
#include <string.h>

#include "efvitcp/efvitcp.h"
#include "link/link.h"

const char *et_link_open(const char *interface, const struct efvitcp_config *cfg,
                         const et_link_params *p, et_link **out)
{
    if (out) *out = NULL;
    if (!interface) return "no interface given: supported: mem:NAME";
    if (strncmp(interface, "mem:", 4) == 0) return et_mem_link_open(interface + 4, cfg, p, out);
    /* Error strings are static (efvitcp.h), so the offending name cannot be quoted back. */
    return "unknown link interface: supported: mem:NAME";
}
