#include "format.h"
#include "io.h"
#include "pit.h"
#include "power.h"
#include "probe.h"

#define POWER_OFF_GRACE_MS 100

void power_off(void)
{
	cpu_cli();
	/* probe.poweroff=debug-exit: QEMU's isa-debug-exit first, for machines
	 * with no PM1a block (-M microvm), which would otherwise wait out the
	 * grace period below before getting there. */
	if (option_list_contains("poweroff", "debug-exit"))
		outb(DEBUG_EXIT_PORT, 0x00);
	outw(PM1A_CONTROL_PORT, PM1_CONTROL_SLP_EN);
	/* The platform may take a moment to stop the vCPU (QEMU handles the
	 * request in its main loop): give it ~100 ms before calling it failed. */
	pit_delay_ms(POWER_OFF_GRACE_MS);
	/* Still here: no PM block at 0x600. */
	console_printf("PROBE poweroff fail still running after PM1a_CNT 0x%x; trying port 0x%x\n",
		       PM1A_CONTROL_PORT, DEBUG_EXIT_PORT);
	/* isa-debug-exit exits QEMU with status (value << 1) | 1. */
	outb(DEBUG_EXIT_PORT, 0x00);
	pit_delay_ms(POWER_OFF_GRACE_MS);
	console_printf("PROBE poweroff fail halting\n");
	cpu_halt_forever();
}
