/* Power-off: ACPI PM1a control (PIIX4 PM block at 0x600, as SeaBIOS sets it
 * up under QEMU and as our launcher emulates it), then QEMU's
 * isa-debug-exit, then cli; hlt forever. */
#ifndef PROBE_POWER_H
#define PROBE_POWER_H

#define PM1A_CONTROL_PORT  0x604
#define PM1_CONTROL_SLP_EN 0x2000  /* bit 13; SLP_TYP (bits 10-12) 0 = S5 on PIIX4 */
#define DEBUG_EXIT_PORT    0x501   /* QEMU -device isa-debug-exit (iobase 0x501) */

void power_off(void) __attribute__((noreturn));

#endif
