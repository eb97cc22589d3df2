/* Probes for the benchmark harness (bench/run.sh), run only when named in
 * probe.only: scratch-writes (the cost of one port-I/O exit to the VMM) and
 * hold (the guest stays up, idle as far as the VMM is concerned, so the
 * harness can sample the VMM's memory while it runs). */
#include "io.h"
#include "pit.h"
#include "probe.h"
#include "uart.h"

/* Bounds the loop so a typo cannot keep a guest busy for hours on this
 * machine's emulator (~10^5 exits a second at best). */
#define SCRATCH_WRITES_MAX 10000000u
#define HOLD_MS_MAX 60000u

void probe_scratch_writes(void)
{
	uint32_t writes = option_u32("scratch-writes", 100000, 1, SCRATCH_WRITES_MAX), i;
	uint8_t last;

	/* Every outb to the scratch register leaves the guest and reaches the
	 * VMM's UART model (it is not one of the devices KVM emulates in the
	 * kernel): the harness divides the VMM's CPU time by this count. The
	 * start line lets it time the loop by the clock too. */
	probe_info("scratch-writes", "start %u", writes);
	for (i = 0; i < writes; i++)
		outb(UART_BASE + UART_SCR, (uint8_t)i);
	last = inb(UART_BASE + UART_SCR);
	probe_result(last == (uint8_t)(writes - 1), "%u writes to port 0x%x, read back 0x%02x", writes,
		     UART_BASE + UART_SCR, last);
}

void probe_hold(void)
{
	uint32_t ms = option_u32("hold-ms", 1000, 1, HOLD_MS_MAX);

	/* pit_delay_ms polls the in-kernel PIT: no exit reaches the VMM while
	 * the guest waits, so what the harness samples is the VMM at rest with
	 * a running guest. */
	probe_info("hold", "start %u ms", ms);
	pit_delay_ms(ms);
	probe_result(true, "held %u ms of PIT time", ms);
}
