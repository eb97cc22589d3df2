/* Just enough ACPI to route interrupts as the firmware describes them: the
 * RSDP from start_info, the RSDT/XSDT, and the MADT (ACPI 6.5 §5.2.12). */
#ifndef PROBE_ACPI_H
#define PROBE_ACPI_H

#include <stdbool.h>
#include <stdint.h>

#define ACPI_MAX_TABLES 32

struct acpi_info {
	bool present;               /* start_info has an RSDP */
	bool valid;                 /* signatures and checksums hold */
	uint32_t rsdp;
	uint8_t revision;
	char oem[7];
	uint32_t table_count;
	char signatures[ACPI_MAX_TABLES][5];
	const char *error;          /* why not valid */

	uint32_t pm1a_control;      /* FADT PM1a_CNT_BLK, 0 if no FADT */

	bool has_madt;
	uint32_t lapic_address;
	uint32_t ioapic_address;    /* first I/O APIC */
	uint32_t ioapic_gsi_base;
	uint32_t ioapic_count;
	uint32_t cpu_count;         /* enabled local APICs */
	int32_t irq0_gsi;           /* from an interrupt source override, else -1 */
	int32_t irq4_gsi;
};

/* Reads the tables the start_info RSDP points at. */
void acpi_read(struct acpi_info *info);

#endif
