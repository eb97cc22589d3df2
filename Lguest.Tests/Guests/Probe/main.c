/* Entry from start.S: check what the loader handed over, run the probes the
 * command line selects, print the summary, power off. */
#include <stdarg.h>

#include "format.h"
#include "interrupts.h"
#include "io.h"
#include "pic.h"
#include "power.h"
#include "probe.h"
#include "string.h"
#include "uart.h"

struct probe {
	const char *name;
	void (*run)(void);
	bool only_when_named; /* needs a device the default run does not assume */
};

static const struct probe probes[] = {
	{ "uart", probe_uart, false },
	{ "cmdline", probe_cmdline, false },
	{ "memmap", probe_memmap, false },
	{ "acpi", probe_acpi, false },
	{ "pci", probe_pci, false },
	{ "pit-pic", probe_pit_pic, false },
	{ "uart-irq", probe_uart_irq, false },
	{ "ioapic", probe_ioapic, false },
	{ "virtio-hostile", probe_virtio_hostile, true },
	{ "virtio-blk", probe_virtio_blk, true },
	{ "virtio-rng", probe_virtio_rng, true },
	{ "virtio-console", probe_virtio_console, true },
	{ "virtio-net", probe_virtio_net, true },
	{ "virtio-attack", probe_virtio_attack, true },
	{ "blk-durability", probe_blk_durability, true },
	{ "scratch-writes", probe_scratch_writes, true },
	{ "hold", probe_hold, true },
};

struct boot boot;

static char cmdline_copy[CMDLINE_MAX + 1];
static const char *current;
static uint32_t passed, total;
static bool reported;

void probe_main(uint32_t start_info_address);

static void vreport(const char *name, const char *verdict, const char *format, va_list arguments)
{
	console_printf("PROBE %s", name);
	if (*verdict)
		console_printf(" %s", verdict);
	if (*format) {
		console_printf(" ");
		console_vprintf(format, arguments);
	}
	console_printf("\n");
}

void probe_result(bool ok, const char *format, ...)
{
	va_list arguments;
	va_start(arguments, format);
	vreport(current, ok ? "ok" : "fail", format, arguments);
	va_end(arguments);
	if (!reported) {
		reported = true;
		total++;
		if (ok)
			passed++;
	}
}

void probe_named_result(const char *name, bool ok, const char *format, ...)
{
	va_list arguments;
	va_start(arguments, format);
	vreport(name, ok ? "ok" : "fail", format, arguments);
	va_end(arguments);
	total++;
	if (ok)
		passed++;
}

void probe_info(const char *name, const char *format, ...)
{
	va_list arguments;
	va_start(arguments, format);
	vreport(name, "", format, arguments);
	va_end(arguments);
}

static void finish(void) __attribute__((noreturn));

static void finish(void)
{
	console_printf("PROBE done %u/%u\n", passed, total);
	power_off();
}

void probe_abort(const char *format, ...)
{
	va_list arguments;
	cpu_cli();
	if (!reported) {
		va_start(arguments, format);
		vreport(current ? current : "boot", "fail", format, arguments);
		va_end(arguments);
		total++;
	}
	finish();
}

static void take_start_info(uint32_t address)
{
	const struct hvm_start_info *info = (const struct hvm_start_info *)address;
	uint32_t n;

	boot.start_info_address = address;
	boot.cmdline = "";
	if (address == 0 || info->magic != XEN_HVM_START_MAGIC_VALUE)
		return;
	boot.start_info = info;
	/* Copy the command line once: it is read again by every option lookup. */
	if (info->cmdline_paddr && info->cmdline_paddr < 0xffffffffu) {
		const char *text = (const char *)(uint32_t)info->cmdline_paddr;
		n = strnlen(text, CMDLINE_MAX);
		memcpy(cmdline_copy, text, n);
		cmdline_copy[n] = '\0';
		boot.cmdline = cmdline_copy;
		boot.has_cmdline = true;
	}
}

static bool selected(const struct probe *probe)
{
	const char *value;
	uint32_t length;
	bool only = option_find("only", &value, &length);

	if (only && !option_list_contains("only", probe->name))
		return false;
	if (!only && probe->only_when_named)
		return false;
	return !option_list_contains("skip", probe->name);
}

void probe_main(uint32_t start_info_address)
{
	uint32_t i;

	uart_init();
	interrupts_init();
	/* Off the exception vectors (the BIOS leaves the master at 0x08) and
	 * all masked, before anything can sti. */
	pic_init(VECTOR_PIC_BASE);
	take_start_info(start_info_address);
	interrupt_return_with_iret = (uint8_t)option_u32("iret", 0, 0, 1);

	console_printf("\n");
	if (boot.start_info)
		probe_info("boot", "start_info 0x%08x version %u flags 0x%x",
			   start_info_address, boot.start_info->version, boot.start_info->flags);
	else
		probe_info("boot", "start_info 0x%08x has no PVH magic", start_info_address);

	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (!selected(&probes[i]))
			continue;
		current = probes[i].name;
		reported = false;
		probes[i].run();
		if (!reported)
			probe_result(false, "reported nothing");
	}
	current = 0;
	finish();
}
