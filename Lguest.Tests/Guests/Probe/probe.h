/* The probe runner: what the probes share, and how they report.
 *
 * Line format on the UART (CR LF line ends):
 *   PROBE <name> ok|fail <detail>    a result, one per probe
 *   PROBE <name> <detail>            information (the second word is never ok/fail)
 *   PROBE done <passed>/<total>      the last line before power-off */
#ifndef PROBE_PROBE_H
#define PROBE_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "start_info.h"

/* Bounds the command line we look at: the loader's string is not trusted to
 * be terminated. Linux's COMMAND_LINE_SIZE on x86 is 2048. */
#define CMDLINE_MAX 2048

/* What the loader handed over, checked once at entry. */
struct boot {
	const struct hvm_start_info *start_info; /* 0 if EBX did not point at the magic */
	uint32_t start_info_address;              /* EBX as received */
	const char *cmdline;                      /* never 0; "" if none */
	bool has_cmdline;
};

extern struct boot boot;

/* Reports the running probe's result. Call exactly once per probe. */
void probe_result(bool ok, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Reports a result of its own under `name` (a probe with several verdicts,
 * such as each attack of virtio-attack): counted in the summary like a probe's. */
void probe_named_result(const char *name, bool ok, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* Prints an information line "PROBE <name> <detail>". */
void probe_info(const char *name, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Fails the running probe with the detail, prints the summary and powers
 * off. For CPU exceptions, where going on would only run into more. */
void probe_abort(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));

/* probe.KEY=VALUE words from the command line (cmdline.c). */
bool option_find(const char *key, const char **value, uint32_t *length);
uint32_t option_u32(const char *key, uint32_t fallback, uint32_t minimum, uint32_t maximum);
/* True if the comma-separated list under key contains name. */
bool option_list_contains(const char *key, const char *name);

/* The probes, in the order they run. Each calls probe_result once. */
void probe_uart(void);
void probe_cmdline(void);
void probe_memmap(void);
void probe_acpi(void);
void probe_pci(void);
void probe_pit_pic(void);
void probe_uart_irq(void);
void probe_ioapic(void);
/* virtio_probes.c: run only when named in probe.only. */
void probe_virtio_blk(void);
void probe_virtio_rng(void);
void probe_virtio_console(void);
void probe_virtio_hostile(void);
/* virtio_net_probe.c: run only when named in probe.only. */
void probe_virtio_net(void);
/* attack.c: the attack mode (probe.attack-target, probe.attacks, probe.attack-witness). */
void probe_virtio_attack(void);
/* durability.c: numbered sectors and flushes until the launcher is killed. */
void probe_blk_durability(void);
/* bench_probes.c: run only when named in probe.only. */
void probe_scratch_writes(void);
void probe_hold(void);

#endif
