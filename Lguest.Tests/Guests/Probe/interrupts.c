#include "format.h"
#include "interrupts.h"
#include "probe.h"

#define IDT_ENTRIES      256
#define IDT_STUB_SIZE    16      /* as in idt.S */
#define GATE_INTERRUPT32 0x8e    /* present, DPL 0, 32-bit interrupt gate */
#define SELECTOR_CODE    0x08    /* as in start.S */

struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t zero;
	uint8_t type;
	uint16_t offset_high;
} __attribute__((packed));

struct idt_descriptor {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

extern const uint8_t interrupt_stubs[];

static struct idt_gate idt[IDT_ENTRIES] __attribute__((aligned(8)));
static interrupt_handler handlers[IDT_ENTRIES];
static volatile uint32_t unexpected;

volatile uint8_t interrupt_return_with_iret;

static const char *const exception_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "22", "23",
	"24", "25", "26", "27", "#HV", "#VC", "#SX", "31",
};

void interrupts_init(void)
{
	struct idt_descriptor descriptor;
	int vector;

	for (vector = 0; vector < IDT_ENTRIES; vector++) {
		uint32_t stub = (uint32_t)interrupt_stubs + (uint32_t)vector * IDT_STUB_SIZE;
		idt[vector].offset_low = (uint16_t)stub;
		idt[vector].selector = SELECTOR_CODE;
		idt[vector].zero = 0;
		idt[vector].type = GATE_INTERRUPT32;
		idt[vector].offset_high = (uint16_t)(stub >> 16);
	}
	descriptor.limit = sizeof(idt) - 1;
	descriptor.base = (uint32_t)idt;
	__asm__ volatile("lidt %0" : : "m"(descriptor));
}

void interrupt_register(uint8_t vector, interrupt_handler handler)
{
	handlers[vector] = handler;
}

uint32_t interrupts_unexpected(void)
{
	return unexpected;
}

void interrupt_dispatch(struct interrupt_frame *frame);

void interrupt_dispatch(struct interrupt_frame *frame)
{
	uint32_t vector = frame->vector & 0xff;

	if (vector < 32)
		probe_abort("exception %s vector %u error 0x%x eip 0x%08x eflags 0x%08x",
			    exception_names[vector], vector, frame->error_code, frame->eip,
			    frame->eflags);
	if (handlers[vector])
		handlers[vector](frame);
	else
		unexpected++;
}
