/* The two cascaded 8259A PICs (master 0x20/0x21, slave 0xa0/0xa1). */
#ifndef PROBE_PIC_H
#define PROBE_PIC_H

#include <stdint.h>

/* Re-initialises both PICs with vectors base..base+15 and masks every IRQ
 * (the cascade line, IRQ 2, stays open). */
void pic_init(uint8_t vector_base);
void pic_mask_all(void);
void pic_unmask(uint8_t irq);
void pic_mask(uint8_t irq);
void pic_eoi(uint8_t irq);

#endif
