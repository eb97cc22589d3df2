#include "io.h"
#include "uart.h"

/* Bounds the wait for THRE so a UART that never drains (or is absent: every
 * read gives 0xff, which has THRE set anyway) cannot hang the probe. */
#define UART_TX_SPINS 100000

void uart_init(void)
{
	outb(UART_BASE + UART_IER, 0x00);
	outb(UART_BASE + UART_LCR, 0x80); /* DLAB: set the divisor */
	outb(UART_BASE + UART_DLL, 0x01); /* 115200 baud */
	outb(UART_BASE + UART_DLM, 0x00);
	outb(UART_BASE + UART_LCR, 0x03); /* 8N1 */
	outb(UART_BASE + UART_FCR, 0x07); /* enable and clear the FIFOs */
	outb(UART_BASE + UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
}

void uart_putc(char c)
{
	unsigned spins;
	for (spins = 0; spins < UART_TX_SPINS; spins++)
		if (inb(UART_BASE + UART_LSR) & UART_LSR_THRE)
			break;
	outb(UART_BASE + UART_THR, (uint8_t)c);
}
