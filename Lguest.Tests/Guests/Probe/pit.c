#include "io.h"
#include "pit.h"
#include "probe.h"

#define PIT_CHANNEL0 0x40
#define PIT_COMMAND  0x43
#define PIT_CMD_CHANNEL0_LATCH 0x00
#define PIT_CMD_CHANNEL0_MODE2 0x34 /* channel 0, lobyte/hibyte, mode 2, binary */

/* If the counter stops, no period ever passes: a wait also ends after this
 * many polls reading the same value in a row. At 1.19 MHz the counter moves
 * between any two polls (a poll is three port accesses, >= ~0.3 us). */
#define PIT_STUCK_POLLS 10000u

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

/* Polls the counter once; true if a period ended since the last poll.
 * Counts polls that saw no change in *stuck. */
static bool period_ended(uint16_t *last, uint32_t *stuck)
{
	uint16_t now = read_counter();
	bool ended = now > *last; /* mode 2 counts down, then reloads */

	*stuck = now == *last ? *stuck + 1 : 0;
	*last = now;
	return ended;
}

void pit_delay_ms(uint32_t ms)
{
	uint32_t passed = 0, stuck = 0, periods;
	uint16_t last;

	pit_ensure_running();
	periods = ms * running_hz / 1000;
	last = read_counter();
	while (passed < periods && stuck < PIT_STUCK_POLLS) {
		cpu_pause();
		if (period_ended(&last, &stuck))
			passed++;
	}
}

void pit_stopwatch_start(struct pit_stopwatch *watch)
{
	pit_ensure_running();
	watch->last = read_counter();
	watch->periods = 0;
	watch->stuck = 0;
}

uint32_t pit_stopwatch_poll(struct pit_stopwatch *watch)
{
	if (period_ended(&watch->last, &watch->stuck))
		watch->periods++;
	return watch->periods;
}

uint32_t pit_stopwatch_ms(const struct pit_stopwatch *watch)
{
	/* 32-bit: no libgcc for a 64-bit division; overflows only after 71 minutes at 1000 Hz. */
	return running_hz ? watch->periods * 1000 / running_hz : 0;
}

struct pit_wait_result pit_wait(volatile uint32_t *count, uint32_t want, uint32_t timeout_periods,
				bool halt)
{
	struct pit_wait_result result = { 0, 0, 0 };
	uint32_t stuck = 0, before;
	uint16_t last;

	pit_ensure_running();
	last = read_counter();
	for (;;) {
		cpu_cli();
		before = *count;
		if (before >= want || result.periods >= timeout_periods || stuck >= PIT_STUCK_POLLS)
			break;
		if (halt && before > 0) {
			cpu_sti_hlt();
			cpu_cli();
			if (*count == before) {
				result.empty_wakes++;
				halt = false;
			} else {
				result.halts++;
				result.periods++;
			}
			last = read_counter();
			continue;
		}
		cpu_sti();
		cpu_pause();
		if (period_ended(&last, &stuck))
			result.periods++;
	}
	return result;
}
