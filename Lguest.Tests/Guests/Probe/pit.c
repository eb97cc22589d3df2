#include "io.h"
#include "pit.h"
#include "probe.h"

#define PIT_CHANNEL0 0x40
#define PIT_COMMAND  0x43
#define PIT_CMD_CHANNEL0_LATCH 0x00
#define PIT_CMD_CHANNEL0_MODE2 0x34 /* channel 0, lobyte/hibyte, mode 2, binary */

/* If the counter never moves, no period ever passes: bound the polls too.
 * Generous: a poll costs three port accesses, ~1-50 us depending on the host. */
#define PIT_WAIT_MAX_POLLS 200000u

static uint32_t running_hz;

void pit_start(uint32_t hz)
{
	uint32_t divisor = (PIT_INPUT_HZ + hz / 2) / hz;
	if (divisor < 2)
		divisor = 2;
	if (divisor > 0xffff)
		divisor = 0xffff;
	outb(PIT_COMMAND, PIT_CMD_CHANNEL0_MODE2);
	outb(PIT_CHANNEL0, (uint8_t)divisor);
	outb(PIT_CHANNEL0, (uint8_t)(divisor >> 8));
	running_hz = PIT_INPUT_HZ / divisor;
}

void pit_ensure_running(void)
{
	if (!running_hz)
		pit_start(option_u32("hz", 1000, 20, 10000));
}

uint32_t pit_hz(void)
{
	return running_hz;
}

static uint16_t read_counter(void)
{
	uint8_t low, high;
	outb(PIT_COMMAND, PIT_CMD_CHANNEL0_LATCH);
	low = inb(PIT_CHANNEL0);
	high = inb(PIT_CHANNEL0);
	return (uint16_t)(low | high << 8);
}

void pit_delay_ms(uint32_t ms)
{
	uint32_t passed = 0, polls = 0, periods;
	uint16_t last, now;

	pit_ensure_running();
	periods = ms * running_hz / 1000;
	last = read_counter();
	while (passed < periods && polls < PIT_WAIT_MAX_POLLS) {
		cpu_pause();
		now = read_counter();
		if (now > last)
			passed++;
		last = now;
		polls++;
	}
}

uint32_t pit_wait(volatile uint32_t *count, uint32_t want, uint32_t timeout_periods, bool halt)
{
	uint32_t periods = 0, polls = 0;
	uint16_t last, now;

	pit_ensure_running();
	last = read_counter();
	for (;;) {
		cpu_cli();
		if (*count >= want || periods >= timeout_periods || polls >= PIT_WAIT_MAX_POLLS)
			break;
		if (halt && *count > 0) {
			cpu_sti_hlt();
			periods++;
			last = read_counter();
			continue;
		}
		cpu_sti();
		cpu_pause();
		/* Mode 2 counts down and reloads: a larger value means a period ended. */
		now = read_counter();
		if (now > last)
			periods++;
		last = now;
		polls++;
	}
	return periods;
}
