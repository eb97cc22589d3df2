/* Port I/O, MMIO and the few privileged instructions the probe uses.
 * Every one of them is something the KVM instruction emulator can execute:
 * no int n, no SSE, no xsave (see README.md, "Constraints"). */
#ifndef PROBE_IO_H
#define PROBE_IO_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t value)
{
	__asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t value;
	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t value;
	__asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t value;
	__asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

/* Paging is off, so a physical address is a pointer. */
static inline uint32_t mmio_read32(uint32_t address)
{
	return *(volatile uint32_t *)address;
}

static inline void mmio_write32(uint32_t address, uint32_t value)
{
	*(volatile uint32_t *)address = value;
}

static inline uint16_t mmio_read16(uint32_t address)
{
	return *(volatile uint16_t *)address;
}

static inline void mmio_write16(uint32_t address, uint16_t value)
{
	*(volatile uint16_t *)address = value;
}

static inline uint8_t mmio_read8(uint32_t address)
{
	return *(volatile uint8_t *)address;
}

static inline void mmio_write8(uint32_t address, uint8_t value)
{
	*(volatile uint8_t *)address = value;
}

static inline void cpu_cli(void)
{
	__asm__ volatile("cli" : : : "memory");
}

static inline void cpu_sti(void)
{
	__asm__ volatile("sti" : : : "memory");
}

/* sti's one-instruction shadow makes "sti; hlt" atomic: an interrupt that is
 * already pending wakes the hlt instead of slipping in before it. */
static inline void cpu_sti_hlt(void)
{
	__asm__ volatile("sti; hlt" : : : "memory");
}

static inline void cpu_pause(void)
{
	__asm__ volatile("pause" : : : "memory");
}

__attribute__((noreturn)) static inline void cpu_halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt" : : : "memory");
}

#endif
