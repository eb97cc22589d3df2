/* The local APIC (xAPIC MMIO, default 0xfee00000) and the I/O APIC
 * (default 0xfec00000), SDM vol. 3 ch. 11 and the 82093AA datasheet. */
#ifndef PROBE_APIC_H
#define PROBE_APIC_H

#include <stdint.h>

#define LAPIC_DEFAULT_BASE  0xfee00000u
#define IOAPIC_DEFAULT_BASE 0xfec00000u

/* I/O APIC redirection entry, low dword. */
#define IOAPIC_REDIR_MASKED       0x10000u
#define IOAPIC_REDIR_LEVEL        0x08000u
#define IOAPIC_REDIR_ACTIVE_LOW   0x02000u

/* Software-enables the local APIC at base with the spurious vector, TPR 0. */
void lapic_enable(uint32_t base, uint8_t spurious_vector);
uint32_t lapic_id(void);
uint32_t lapic_version(void);
void lapic_eoi(void);

void ioapic_select(uint32_t base);
uint32_t ioapic_read(uint8_t reg);
void ioapic_write(uint8_t reg, uint32_t value);
uint32_t ioapic_id(void);
/* Number of redirection entries (pins). */
uint32_t ioapic_pins(void);
/* Routes pin to vector, fixed delivery to the APIC id, edge, active high. */
void ioapic_route(uint32_t pin, uint8_t vector, uint32_t apic_id);
void ioapic_mask(uint32_t pin);

#endif
