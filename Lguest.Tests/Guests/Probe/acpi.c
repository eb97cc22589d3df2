#include "acpi.h"
#include "probe.h"
#include "string.h"

/* The tables come from the loader: bound every length and count. */
#define ACPI_TABLE_MAX_LENGTH 0x10000u
#define ACPI_SDT_HEADER_LENGTH 36
#define MADT_ENTRIES_OFFSET 44
#define FADT_PM1A_CONTROL_OFFSET 64

#define MADT_LOCAL_APIC       0
#define MADT_IO_APIC          1
#define MADT_SOURCE_OVERRIDE  2

static uint32_t read32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool checksum_ok(const uint8_t *p, uint32_t length)
{
	uint8_t sum = 0;
	while (length--)
		sum = (uint8_t)(sum + *p++);
	return sum == 0;
}

/* The table at address if its header and checksum hold, else 0. */
static const uint8_t *table_at(uint64_t address, uint32_t *length)
{
	const uint8_t *table;
	uint32_t n;

	if (address == 0 || address > 0xffffffffu - ACPI_TABLE_MAX_LENGTH)
		return 0;
	table = (const uint8_t *)(uint32_t)address;
	n = read32(table + 4);
	if (n < ACPI_SDT_HEADER_LENGTH || n > ACPI_TABLE_MAX_LENGTH || !checksum_ok(table, n))
		return 0;
	*length = n;
	return table;
}

static void read_madt(struct acpi_info *info, const uint8_t *madt, uint32_t length)
{
	uint32_t offset = MADT_ENTRIES_OFFSET;

	info->has_madt = true;
	info->lapic_address = read32(madt + 36);
	while (offset + 2 <= length) {
		const uint8_t *entry = madt + offset;
		uint8_t type = entry[0], entry_length = entry[1];

		if (entry_length < 2 || offset + entry_length > length)
			break;
		if (type == MADT_LOCAL_APIC && entry_length >= 8 && (read32(entry + 4) & 1))
			info->cpu_count++;
		if (type == MADT_IO_APIC && entry_length >= 12) {
			if (info->ioapic_count == 0) {
				info->ioapic_address = read32(entry + 4);
				info->ioapic_gsi_base = read32(entry + 8);
			}
			info->ioapic_count++;
		}
		if (type == MADT_SOURCE_OVERRIDE && entry_length >= 10 && entry[2] == 0) {
			if (entry[3] == 0)
				info->irq0_gsi = (int32_t)read32(entry + 4);
			if (entry[3] == 4)
				info->irq4_gsi = (int32_t)read32(entry + 4);
		}
		offset += entry_length;
	}
}

void acpi_read(struct acpi_info *info)
{
	const uint8_t *rsdp, *root;
	uint32_t root_length, entry_size, i;
	uint64_t root_address;

	memset(info, 0, sizeof(*info));
	info->irq0_gsi = -1;
	info->irq4_gsi = -1;
	if (!boot.start_info || !boot.start_info->rsdp_paddr) {
		info->error = "no rsdp_paddr";
		return;
	}
	info->present = true;
	if (boot.start_info->rsdp_paddr > 0xffffffffu - 36) {
		info->error = "rsdp above 4 GiB";
		return;
	}
	info->rsdp = (uint32_t)boot.start_info->rsdp_paddr;
	rsdp = (const uint8_t *)info->rsdp;
	if (memcmp(rsdp, "RSD PTR ", 8) != 0 || !checksum_ok(rsdp, 20)) {
		info->error = "bad RSDP signature or checksum";
		return;
	}
	info->revision = rsdp[15];
	memcpy(info->oem, rsdp + 9, 6);
	if (info->revision >= 2 && (read32(rsdp + 24) || read32(rsdp + 28))) {
		root_address = (uint64_t)read32(rsdp + 24) | (uint64_t)read32(rsdp + 28) << 32;
		entry_size = 8;
	} else {
		root_address = read32(rsdp + 16);
		entry_size = 4;
	}
	root = table_at(root_address, &root_length);
	if (!root || memcmp(root, entry_size == 8 ? "XSDT" : "RSDT", 4) != 0) {
		info->error = "bad RSDT/XSDT";
		return;
	}
	for (i = 0; ACPI_SDT_HEADER_LENGTH + (i + 1) * entry_size <= root_length; i++) {
		const uint8_t *slot = root + ACPI_SDT_HEADER_LENGTH + i * entry_size;
		uint64_t address = read32(slot);
		const uint8_t *table;
		uint32_t length;

		if (entry_size == 8)
			address |= (uint64_t)read32(slot + 4) << 32;
		if (info->table_count == ACPI_MAX_TABLES)
			break;
		table = table_at(address, &length);
		if (!table) {
			info->error = "a table fails its checksum";
			return;
		}
		memcpy(info->signatures[info->table_count++], table, 4);
		if (memcmp(table, "FACP", 4) == 0 && length >= FADT_PM1A_CONTROL_OFFSET + 4)
			info->pm1a_control = read32(table + FADT_PM1A_CONTROL_OFFSET);
		if (memcmp(table, "APIC", 4) == 0 && length >= MADT_ENTRIES_OFFSET)
			read_madt(info, table, length);
	}
	info->valid = true;
}
