/* PCI configuration mechanism #1 (ports 0xcf8/0xcfc), PCI Local Bus 3.0 §3.2.2.3.2. */
#ifndef PROBE_PCI_H
#define PROBE_PCI_H

#include <stdint.h>

#define PCI_VENDOR_ID      0x00
#define PCI_DEVICE_ID      0x02
#define PCI_COMMAND        0x04
#define PCI_STATUS         0x06
#define PCI_CLASS_REVISION 0x08 /* class << 8 | revision */
#define PCI_HEADER_TYPE    0x0e
#define PCI_BAR0           0x10
#define PCI_SUBSYSTEM_ID   0x2e
#define PCI_CAPABILITIES   0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN  0x3d

#define PCI_STATUS_CAP_LIST      0x10
#define PCI_HEADER_MULTIFUNCTION 0x80
#define PCI_CAP_ID_VENDOR        0x09
#define PCI_CAP_ID_MSIX          0x11

struct pci_address {
	uint8_t bus, device, function;
};

uint32_t pci_read32(struct pci_address a, uint8_t offset);
uint16_t pci_read16(struct pci_address a, uint8_t offset);
uint8_t pci_read8(struct pci_address a, uint8_t offset);
void pci_write32(struct pci_address a, uint8_t offset, uint32_t value);
void pci_write16(struct pci_address a, uint8_t offset, uint16_t value);

#endif
