/* Interrupt probes: the PIT through the 8259 PICs, the UART's IRQ 4 through
 * the PICs, and both again through the I/O APIC and the local APIC. */
#include "acpi.h"
#include "apic.h"
#include "interrupts.h"
#include "io.h"
#include "pic.h"
#include "pit.h"
#include "probe.h"
#include "uart.h"

/* The emulator here runs ~1M instructions/s: keep the tick count small. */
#define TICKS_DEFAULT 10
#define TICKS_MAX     20
/* PIT periods to wait for the wanted ticks before calling it a failure. */
#define TIMEOUT_PERIODS(want) ((want) * 10 + 100)
#define UART_TIMEOUT_PERIODS 50

#define IOAPIC_PIT_PINS 2 /* pins 0 and 2: ISA IRQ 0 is on one of them */

static volatile uint32_t pic_ticks;
static volatile uint32_t ioapic_ticks[3];
static volatile uint32_t ioapic_ticks_total;
static volatile uint32_t uart_interrupts;
static volatile uint8_t uart_last_iir;
static bool uart_via_ioapic;

static uint32_t wanted_ticks(void)
{
	return option_u32("ticks", TICKS_DEFAULT, 1, TICKS_MAX);
}

static void on_pic_timer(struct interrupt_frame *frame)
{
	(void)frame;
	pic_ticks++;
	pic_eoi(PIT_IRQ);
}

static void on_uart(struct interrupt_frame *frame)
{
	uint8_t iir = inb(UART_BASE + UART_IIR); /* reading IIR clears THRI */
	(void)frame;
	if (!(iir & UART_IIR_NO_INT))
		uart_interrupts++;
	uart_last_iir = iir;
	/* One is enough: stop THRE from raising it again. */
	outb(UART_BASE + UART_IER, 0);
	if (uart_via_ioapic)
		lapic_eoi();
	else
		pic_eoi(UART_IRQ);
}

static void on_ioapic_timer(struct interrupt_frame *frame)
{
	ioapic_ticks[frame->vector - VECTOR_IOAPIC_BASE]++;
	ioapic_ticks_total++;
	lapic_eoi();
}

static void on_lapic_spurious(struct interrupt_frame *frame)
{
	(void)frame; /* no EOI for the spurious vector (SDM 11.9) */
}

/* Enables the THR-empty interrupt with the transmitter idle, so the UART
 * raises IRQ 4 at once; waits for the handler to see it. */
static uint32_t take_uart_interrupt(void)
{
	uart_interrupts = 0;
	uart_last_iir = 0;
	outb(UART_BASE + UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
	outb(UART_BASE + UART_IER, UART_IER_THRI);
	pit_wait(&uart_interrupts, 1, UART_TIMEOUT_PERIODS, false);
	outb(UART_BASE + UART_IER, 0);
	outb(UART_BASE + UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
	return uart_interrupts;
}

void probe_pit_pic(void)
{
	uint32_t want = wanted_ticks();
	struct pit_wait_result wait;

	interrupt_register(VECTOR_PIC_BASE + PIT_IRQ, on_pic_timer);
	pit_start(option_u32("hz", 1000, 20, 10000));
	pic_ticks = 0;
	pic_unmask(PIT_IRQ);
	wait = pit_wait(&pic_ticks, want, TIMEOUT_PERIODS(want), true);
	pic_mask(PIT_IRQ);
	probe_result(pic_ticks >= want,
		     "%u ticks in %u periods at %u Hz (irq 0 vector 0x%x) hlt %u empty-wakes %u unexpected %u",
		     pic_ticks, wait.periods, pit_hz(), VECTOR_PIC_BASE + PIT_IRQ, wait.halts,
		     wait.empty_wakes, interrupts_unexpected());
}

void probe_uart_irq(void)
{
	uint32_t count;

	interrupt_register(VECTOR_PIC_BASE + UART_IRQ, on_uart);
	uart_via_ioapic = false;
	pic_unmask(UART_IRQ);
	count = take_uart_interrupt();
	pic_mask(UART_IRQ);
	probe_result(count >= 1, "%u via pic irq 4 vector 0x%x iir 0x%02x", count,
		     VECTOR_PIC_BASE + UART_IRQ, uart_last_iir);
}

void probe_ioapic(void)
{
	static const uint32_t pit_pins[IOAPIC_PIT_PINS] = { 0, 2 };
	struct acpi_info acpi;
	uint32_t want = wanted_ticks(), apic_id, pins, i, uart_pin, uart_count;
	struct pit_wait_result wait;
	int32_t expected_pin = -1;
	bool pit_ok;

	acpi_read(&acpi);
	/* ISA IRQs without an interrupt source override are identity-mapped
	 * (ACPI §5.2.12.5); without a MADT, take whichever pin fires. */
	if (acpi.has_madt)
		expected_pin = acpi.irq0_gsi >= 0 ? acpi.irq0_gsi - (int32_t)acpi.ioapic_gsi_base : 0;
	uart_pin = acpi.irq4_gsi >= 0 ? (uint32_t)acpi.irq4_gsi - acpi.ioapic_gsi_base : UART_IRQ;

	pic_mask_all();
	interrupt_register(VECTOR_APIC_SPURIOUS, on_lapic_spurious);
	lapic_enable(acpi.has_madt && acpi.lapic_address ? acpi.lapic_address : LAPIC_DEFAULT_BASE,
		     VECTOR_APIC_SPURIOUS);
	apic_id = lapic_id();
	ioapic_select(acpi.ioapic_count ? acpi.ioapic_address : IOAPIC_DEFAULT_BASE);
	pins = ioapic_pins();
	probe_info("ioapic-info", "lapic id %u version 0x%08x ioapic id %u pins %u madt-irq0-pin %d uart-pin %u",
		   apic_id, lapic_version(), ioapic_id(), pins, expected_pin, uart_pin);
	if (pins < 3 || pins > 240 || uart_pin >= pins) {
		probe_result(false, "ioapic reports %u pins", pins);
		return;
	}

	pit_ensure_running();
	ioapic_ticks_total = 0;
	for (i = 0; i < IOAPIC_PIT_PINS; i++) {
		ioapic_ticks[pit_pins[i]] = 0;
		interrupt_register((uint8_t)(VECTOR_IOAPIC_BASE + pit_pins[i]), on_ioapic_timer);
		ioapic_route(pit_pins[i], (uint8_t)(VECTOR_IOAPIC_BASE + pit_pins[i]), apic_id);
	}
	wait = pit_wait(&ioapic_ticks_total, want, TIMEOUT_PERIODS(want), true);
	for (i = 0; i < IOAPIC_PIT_PINS; i++)
		ioapic_mask(pit_pins[i]);
	/* A MADT that puts IRQ 0 on a pin we do not watch fails the probe. */
	pit_ok = ioapic_ticks_total >= want &&
		 (expected_pin < 0 ||
		  ((expected_pin == 0 || expected_pin == 2) && ioapic_ticks[expected_pin] >= want));

	interrupt_register((uint8_t)(VECTOR_IOAPIC_BASE + uart_pin), on_uart);
	uart_via_ioapic = true;
	ioapic_route(uart_pin, (uint8_t)(VECTOR_IOAPIC_BASE + uart_pin), apic_id);
	uart_count = take_uart_interrupt();
	ioapic_mask(uart_pin);

	probe_result(pit_ok && uart_count >= 1,
		     "pit pin0 %u pin2 %u in %u periods hlt %u empty-wakes %u, uart pin %u %u, unexpected %u",
		     ioapic_ticks[0], ioapic_ticks[2], wait.periods, wait.halts, wait.empty_wakes,
		     uart_pin, uart_count, interrupts_unexpected());
}
