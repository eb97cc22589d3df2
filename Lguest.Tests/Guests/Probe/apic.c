#include "apic.h"
#include "io.h"

#define LAPIC_ID       0x020
#define LAPIC_VERSION  0x030
#define LAPIC_TPR      0x080
#define LAPIC_EOI      0x0b0
#define LAPIC_SVR      0x0f0
#define LAPIC_SVR_ENABLE 0x100

#define IOAPIC_REGSEL  0x00
#define IOAPIC_WINDOW  0x10
#define IOAPIC_REG_ID      0x00
#define IOAPIC_REG_VERSION 0x01
#define IOAPIC_REG_REDIR   0x10 /* + 2 * pin: low dword, + 1: high dword */

static uint32_t lapic_base = LAPIC_DEFAULT_BASE;
static uint32_t ioapic_base = IOAPIC_DEFAULT_BASE;

void lapic_enable(uint32_t base, uint8_t spurious_vector)
{
	lapic_base = base;
	mmio_write32(lapic_base + LAPIC_TPR, 0);
	mmio_write32(lapic_base + LAPIC_SVR, LAPIC_SVR_ENABLE | spurious_vector);
}

uint32_t lapic_id(void)
{
	return mmio_read32(lapic_base + LAPIC_ID) >> 24;
}

uint32_t lapic_version(void)
{
	return mmio_read32(lapic_base + LAPIC_VERSION);
}

void lapic_eoi(void)
{
	mmio_write32(lapic_base + LAPIC_EOI, 0);
}

void ioapic_select(uint32_t base)
{
	ioapic_base = base;
}

uint32_t ioapic_read(uint8_t reg)
{
	mmio_write32(ioapic_base + IOAPIC_REGSEL, reg);
	return mmio_read32(ioapic_base + IOAPIC_WINDOW);
}

void ioapic_write(uint8_t reg, uint32_t value)
{
	mmio_write32(ioapic_base + IOAPIC_REGSEL, reg);
	mmio_write32(ioapic_base + IOAPIC_WINDOW, value);
}

uint32_t ioapic_id(void)
{
	return (ioapic_read(IOAPIC_REG_ID) >> 24) & 0x0f;
}

uint32_t ioapic_pins(void)
{
	return ((ioapic_read(IOAPIC_REG_VERSION) >> 16) & 0xff) + 1;
}

void ioapic_route(uint32_t pin, uint8_t vector, uint32_t apic_id)
{
	/* High dword first, so the entry is never live with a stale destination. */
	ioapic_write((uint8_t)(IOAPIC_REG_REDIR + 2 * pin + 1), apic_id << 24);
	ioapic_write((uint8_t)(IOAPIC_REG_REDIR + 2 * pin), vector);
}

void ioapic_mask(uint32_t pin)
{
	ioapic_write((uint8_t)(IOAPIC_REG_REDIR + 2 * pin), IOAPIC_REDIR_MASKED);
}
