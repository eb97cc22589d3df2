#include "io.h"
#include "pic.h"

#define PIC_MASTER_COMMAND 0x20
#define PIC_MASTER_DATA    0x21
#define PIC_SLAVE_COMMAND  0xa0
#define PIC_SLAVE_DATA     0xa1

#define ICW1_INIT_ICW4 0x11 /* edge triggered, cascade, ICW4 follows */
#define ICW4_8086      0x01
#define OCW2_EOI       0x20 /* non-specific EOI */
#define CASCADE_IRQ    2

void pic_init(uint8_t vector_base)
{
	outb(PIC_MASTER_COMMAND, ICW1_INIT_ICW4);
	outb(PIC_MASTER_DATA, vector_base);          /* ICW2: vector base */
	outb(PIC_MASTER_DATA, 1 << CASCADE_IRQ);     /* ICW3: slave on IRQ 2 */
	outb(PIC_MASTER_DATA, ICW4_8086);
	outb(PIC_SLAVE_COMMAND, ICW1_INIT_ICW4);
	outb(PIC_SLAVE_DATA, (uint8_t)(vector_base + 8));
	outb(PIC_SLAVE_DATA, CASCADE_IRQ);           /* ICW3: cascade identity */
	outb(PIC_SLAVE_DATA, ICW4_8086);
	outb(PIC_MASTER_DATA, (uint8_t)~(1 << CASCADE_IRQ));
	outb(PIC_SLAVE_DATA, 0xff);
}

void pic_mask_all(void)
{
	outb(PIC_MASTER_DATA, 0xff);
	outb(PIC_SLAVE_DATA, 0xff);
}

void pic_unmask(uint8_t irq)
{
	uint16_t port = irq < 8 ? PIC_MASTER_DATA : PIC_SLAVE_DATA;
	outb(port, (uint8_t)(inb(port) & ~(1 << (irq & 7))));
}

void pic_mask(uint8_t irq)
{
	uint16_t port = irq < 8 ? PIC_MASTER_DATA : PIC_SLAVE_DATA;
	outb(port, (uint8_t)(inb(port) | (1 << (irq & 7))));
}

void pic_eoi(uint8_t irq)
{
	if (irq >= 8)
		outb(PIC_SLAVE_COMMAND, OCW2_EOI);
	outb(PIC_MASTER_COMMAND, OCW2_EOI);
}
