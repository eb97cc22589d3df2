/* Probes of what the loader handed over and of the console itself:
 * uart, cmdline, memmap, acpi. */
#include "acpi.h"
#include "format.h"
#include "io.h"
#include "probe.h"
#include "uart.h"

/* The memory map comes from the loader: print and count at most this many. */
#define MEMMAP_MAX_ENTRIES 128

void probe_uart(void)
{
	static const uint8_t patterns[] = { 0x55, 0xaa, 0x00, 0xff };
	uint8_t lsr, iir;
	uint32_t i;
	bool scratch = true;

	for (i = 0; i < sizeof(patterns); i++) {
		outb(UART_BASE + UART_SCR, patterns[i]);
		if (inb(UART_BASE + UART_SCR) != patterns[i])
			scratch = false;
	}
	lsr = inb(UART_BASE + UART_LSR);
	iir = inb(UART_BASE + UART_IIR);
	/* Sane: transmitter empty or draining (THRE), no error bits, and not
	 * 0xff, which is what a floating bus (no device) reads as. */
	probe_result(scratch && lsr != 0xff && (lsr & UART_LSR_THRE) && !(lsr & 0x9e),
		     "scratch %s lsr 0x%02x iir 0x%02x%s", scratch ? "ok" : "fail", lsr, iir,
		     (iir & UART_IIR_FIFO) == UART_IIR_FIFO ? " fifo 16550a" : "");
}

void probe_cmdline(void)
{
	static char text[CMDLINE_MAX + 1];
	const char *p;
	uint32_t n;

	if (!boot.start_info) {
		probe_result(false, "no start_info");
		return;
	}
	if (!boot.has_cmdline) {
		probe_result(false, "cmdline_paddr is 0");
		return;
	}
	/* Printed as is, but for control characters, so a test can compare it. */
	for (p = boot.cmdline, n = 0; *p; p++, n++)
		text[n] = (*p < 0x20 || *p > 0x7e) ? '?' : *p;
	text[n] = '\0';
	probe_result(true, "%s", text);
}

static const char *memmap_type_name(uint32_t type)
{
	switch (type) {
	case XEN_HVM_MEMMAP_TYPE_RAM: return "ram";
	case XEN_HVM_MEMMAP_TYPE_RESERVED: return "reserved";
	case XEN_HVM_MEMMAP_TYPE_ACPI: return "acpi";
	case XEN_HVM_MEMMAP_TYPE_NVS: return "nvs";
	case XEN_HVM_MEMMAP_TYPE_UNUSABLE: return "unusable";
	case XEN_HVM_MEMMAP_TYPE_DISABLED: return "disabled";
	case XEN_HVM_MEMMAP_TYPE_PMEM: return "pmem";
	default: return "unknown";
	}
}

void probe_memmap(void)
{
	const struct hvm_memmap_table_entry *entries;
	uint32_t count, i, ram_entries = 0;
	uint64_t ram = 0;

	if (!boot.start_info) {
		probe_result(false, "no start_info");
		return;
	}
	if (boot.start_info->version < 1) {
		probe_result(false, "start_info version 0 has no memmap");
		return;
	}
	if (!boot.start_info->memmap_paddr ||
	    boot.start_info->memmap_paddr > 0xffffffffu - MEMMAP_MAX_ENTRIES * sizeof(*entries)) {
		probe_result(false, "memmap_paddr 0x%llx", boot.start_info->memmap_paddr);
		return;
	}
	entries = (const struct hvm_memmap_table_entry *)(uint32_t)boot.start_info->memmap_paddr;
	count = boot.start_info->memmap_entries;
	for (i = 0; i < count && i < MEMMAP_MAX_ENTRIES; i++) {
		struct hvm_memmap_table_entry e = entries[i];
		probe_info("memmap-entry", "0x%016llx-0x%016llx %s", e.addr, e.addr + e.size - 1,
			   memmap_type_name(e.type));
		if (e.type == XEN_HVM_MEMMAP_TYPE_RAM) {
			ram += e.size;
			ram_entries++;
		}
	}
	probe_result(ram_entries > 0, "%u entries, %u ram, %llu KiB ram", count, ram_entries,
		     ram >> 10);
}

void probe_acpi(void)
{
	struct acpi_info info;
	char tables[ACPI_MAX_TABLES * 5 + 1] = "";
	uint32_t i;

	acpi_read(&info);
	if (!info.present) {
		/* Optional: a launcher without ACPI is fine, the probes fall back. */
		probe_result(true, "none (%s)", info.error);
		return;
	}
	if (!info.valid) {
		probe_result(false, "rsdp 0x%08x %s", info.rsdp, info.error);
		return;
	}
	for (i = 0; i < info.table_count; i++)
		format_string(tables + 5 * i, 6, " %s", info.signatures[i]);
	probe_result(true, "rsdp 0x%08x rev %u oem %s tables%s pm1a-cnt 0x%x", info.rsdp,
		     info.revision, info.oem, tables, info.pm1a_control);
	if (info.has_madt)
		probe_info("acpi-madt", "lapic 0x%08x ioapic 0x%08x gsi-base %u ioapics %u cpus %u irq0-gsi %d irq4-gsi %d",
			   info.lapic_address, info.ioapic_address, info.ioapic_gsi_base,
			   info.ioapic_count, info.cpu_count, info.irq0_gsi, info.irq4_gsi);
}
