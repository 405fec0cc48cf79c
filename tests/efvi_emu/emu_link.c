/*
 * The emulator's side of "efvi:NAME" with cfg.wire (link.h, et_efvi_emu_link_open), so that the
 * efvi link itself knows no wire: the emulated NIC port NAME is put on the wire (or found there),
 * and the link opens on it with the port's ifindex and the wire's clock as its time base.
 *
 * The port's lifetime follows the link without a hook in it: a protection domain holds a
 * reference on its port (efvi_emu.h), so once the link has its PD the reference taken here is
 * dropped, and the port leaves the wire when the link frees its PD.
 */
#include <string.h>

#include "efvi_emu.h"
#include "link/link.h"
#include "wire/wire.h"

#define EMU_LINK_NAME_MAX 31u /* the efvi link's interface names */

const char *et_efvi_emu_link_open(const char *spec, const et_link_params *p, et_link **out)
{
    if (!spec || !p || !p->wire || !out) return et_efvi_link_open(spec, p, out);
    *out = NULL;
    const char *comma = strchr(spec, ',');
    size_t n = comma ? (size_t)(comma - spec) : strlen(spec);
    if (n == 0 || n > EMU_LINK_NAME_MAX)
        return "efvi link: interface name must be 1..31 characters";
    if (!p->local_addr) return "efvi link on a simulated wire needs local_addr";
    char name[EMU_LINK_NAME_MAX + 1];
    memcpy(name, spec, n);
    name[n] = '\0';

    et_link_params q = *p;
    if (efvi_emu_wire_attach(p->wire, name, &q.ifindex) != 0)
        return "efvi link: cannot create the emulated NIC port";
    q.clock = et_wire_clock(p->wire);
    const char *err = et_efvi_link_open(spec, &q, out);
    efvi_emu_wire_release(p->wire, name);
    return err;
}
