/* The 8254 PIT, channel 0 (ISA IRQ 0), and the probe's only clock.
 *
 * The probe must not hang when an interrupt never comes, and a spin count is
 * no clock: this machine's emulator runs ~1M instructions/s, TCG a hundred
 * times more. So waits poll the PIT counter itself (a latch and two reads) and
 * count its periods; that clock runs whether or not its interrupt arrives. */
#ifndef PROBE_PIT_H
#define PROBE_PIT_H

#include <stdbool.h>
#include <stdint.h>

#define PIT_INPUT_HZ 1193182u
#define PIT_IRQ 0

/* Starts channel 0 as a rate generator (mode 2) at about hz. */
void pit_start(uint32_t hz);
/* Starts it at the default rate (probe.hz, 1000) unless already running. */
void pit_ensure_running(void);
uint32_t pit_hz(void);

/* What one pit_wait saw. */
struct pit_wait_result {
	uint32_t periods;      /* PIT periods waited */
	uint32_t halts;        /* hlt wake-ups that brought a new count */
	uint32_t empty_wakes;  /* hlt wake-ups that did not (then the wait polls) */
};

/* Waits until *count reaches want, or timeout_periods PIT periods pass.
 * With halt, once the first interrupt has come, the wait uses sti; hlt and
 * counts each wake-up as a period: only for counts the PIT itself drives. A
 * wake-up that brings no new count is not a period: from then on the wait
 * polls. Interrupts are on during the wait and off (cli) when it returns. */
struct pit_wait_result pit_wait(volatile uint32_t *count, uint32_t want, uint32_t timeout_periods,
				bool halt);

/* Busy-waits about ms milliseconds of PIT time, interrupts as they are. */
void pit_delay_ms(uint32_t ms);

/* A stopwatch on the PIT counter: start it, then poll it at least once per
 * PIT period (1 ms at the default rate) while the work runs; periods ended
 * between two polls further apart are counted as one. */
struct pit_stopwatch {
	uint16_t last;
	uint32_t periods;
	uint32_t stuck;
};

void pit_stopwatch_start(struct pit_stopwatch *watch);
/* Polls the counter; returns the periods counted since the start. */
uint32_t pit_stopwatch_poll(struct pit_stopwatch *watch);
/* The periods counted so far in milliseconds. */
uint32_t pit_stopwatch_ms(const struct pit_stopwatch *watch);

#endif
