/* The PVH start-of-day structure, Xen public/arch-x86/hvm/start_info.h.
 * The loader passes its physical address in EBX. */
#ifndef PROBE_START_INFO_H
#define PROBE_START_INFO_H

#include <stdint.h>

#define XEN_HVM_START_MAGIC_VALUE 0x336ec578u

struct hvm_start_info {
	uint32_t magic;          /* XEN_HVM_START_MAGIC_VALUE */
	uint32_t version;        /* 0, or 1 with the memory map fields */
	uint32_t flags;          /* SIF_xxx */
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;  /* zero-terminated ASCII, 0 = none */
	uint64_t rsdp_paddr;     /* ACPI RSDP, 0 = none */
	/* version 1 */
	uint64_t memmap_paddr;   /* array of struct hvm_memmap_table_entry */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;           /* XEN_HVM_MEMMAP_TYPE_*, the e820 types */
	uint32_t reserved;
};

#define XEN_HVM_MEMMAP_TYPE_RAM      1
#define XEN_HVM_MEMMAP_TYPE_RESERVED 2
#define XEN_HVM_MEMMAP_TYPE_ACPI     3
#define XEN_HVM_MEMMAP_TYPE_NVS      4
#define XEN_HVM_MEMMAP_TYPE_UNUSABLE 5
#define XEN_HVM_MEMMAP_TYPE_DISABLED 6
#define XEN_HVM_MEMMAP_TYPE_PMEM     7

#endif
