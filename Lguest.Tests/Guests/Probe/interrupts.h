/* The IDT: 256 interrupt gates into idt.S, dispatched to C handlers.
 * Vectors 0-31 are CPU exceptions (reported as a probe failure, then the
 * probe powers off); the probes register handlers for the device vectors. */
#ifndef PROBE_INTERRUPTS_H
#define PROBE_INTERRUPTS_H

#include <stdbool.h>
#include <stdint.h>

/* What idt.S pushes, lowest address first. */
struct interrupt_frame {
	uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax; /* pushal */
	uint32_t vector;
	uint32_t error_code;                             /* 0 where the CPU pushes none */
	uint32_t eip, cs, eflags;                        /* pushed by the CPU */
};

typedef void (*interrupt_handler)(struct interrupt_frame *frame);

/* Vector layout. */
#define VECTOR_PIC_BASE     0x20 /* 8259 master IRQ 0-7, slave 8-15 at 0x28 */
#define VECTOR_IOAPIC_BASE  0x30 /* IOAPIC pin n -> 0x30 + n */
#define VECTOR_APIC_SPURIOUS 0xff

void interrupts_init(void);
void interrupt_register(uint8_t vector, interrupt_handler handler);
/* How many interrupts arrived on vectors with no handler (e.g. spurious). */
uint32_t interrupts_unexpected(void);

/* 0 (default): return from interrupts with popfl; ret $4, because KVM's
 * instruction emulator (all there is under kvm_pvm) fails a protected-mode
 * iret with KVM_EXIT_INTERNAL_ERROR. 1 (probe.iret=1): with iret. */
extern volatile uint8_t interrupt_return_with_iret;

#endif
