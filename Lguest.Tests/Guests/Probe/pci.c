#include "io.h"
#include "pci.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA    0xcfc
#define PCI_CONFIG_ENABLE  0x80000000u

static void select_register(struct pci_address a, uint8_t offset)
{
	outl(PCI_CONFIG_ADDRESS, PCI_CONFIG_ENABLE | (uint32_t)a.bus << 16 |
		(uint32_t)(a.device & 0x1f) << 11 | (uint32_t)(a.function & 7) << 8 | (offset & 0xfc));
}

uint32_t pci_read32(struct pci_address a, uint8_t offset)
{
	select_register(a, offset);
	return inl(PCI_CONFIG_DATA);
}

/* Narrow accesses go to the matching byte lanes of 0xcfc-0xcff, as Linux
 * does, so a host bridge that only handles dwords shows up here. */
uint16_t pci_read16(struct pci_address a, uint8_t offset)
{
	select_register(a, offset);
	return inw((uint16_t)(PCI_CONFIG_DATA + (offset & 2)));
}

uint8_t pci_read8(struct pci_address a, uint8_t offset)
{
	select_register(a, offset);
	return inb((uint16_t)(PCI_CONFIG_DATA + (offset & 3)));
}

void pci_write32(struct pci_address a, uint8_t offset, uint32_t value)
{
	select_register(a, offset);
	outl(PCI_CONFIG_DATA, value);
}

void pci_write16(struct pci_address a, uint8_t offset, uint16_t value)
{
	select_register(a, offset);
	outw((uint16_t)(PCI_CONFIG_DATA + (offset & 2)), value);
}
