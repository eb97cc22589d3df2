/* The 16550A UART at COM1 (I/O 0x3f8, ISA IRQ 4). Output is polled. */
#ifndef PROBE_UART_H
#define PROBE_UART_H

#include <stdint.h>

#define UART_BASE 0x3f8
#define UART_IRQ  4

/* Register offsets from UART_BASE (DLAB = 0 unless noted). */
#define UART_THR 0 /* transmit holding (write) */
#define UART_IER 1 /* interrupt enable */
#define UART_IIR 2 /* interrupt identification (read) */
#define UART_FCR 2 /* FIFO control (write) */
#define UART_LCR 3 /* line control */
#define UART_MCR 4 /* modem control */
#define UART_LSR 5 /* line status */
#define UART_SCR 7 /* scratch */
#define UART_DLL 0 /* divisor latch low (DLAB = 1) */
#define UART_DLM 1 /* divisor latch high (DLAB = 1) */

#define UART_IER_THRI    0x02 /* interrupt when THR empty */
#define UART_IIR_NO_INT  0x01
#define UART_IIR_ID      0x0e
#define UART_IIR_THRI    0x02
#define UART_IIR_FIFO    0xc0 /* both bits set: 16550A with FIFOs enabled */
#define UART_LSR_THRE    0x20
#define UART_LSR_TEMT    0x40
#define UART_MCR_DTR     0x01
#define UART_MCR_RTS     0x02
#define UART_MCR_OUT2    0x08 /* gates the IRQ line on PC-compatible boards */

void uart_init(void);
void uart_putc(char c);

#endif
