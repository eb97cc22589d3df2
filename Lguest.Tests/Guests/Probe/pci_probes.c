/* The pci probe: enumerate bus 0, and for virtio devices list the BARs and
 * walk the capability list (virtio 1.2 §4.1.4). */
#include "pci.h"
#include "probe.h"

#define PCI_DEVICES_PER_BUS 32
#define PCI_FUNCTIONS       8
#define PCI_VENDOR_NONE     0xffff

/* Capabilities live in 0x40-0xff, 4-byte aligned at least: a well-formed
 * list has at most 48 entries, so more means a loop. */
#define PCI_CAP_MAX 48

#define VIRTIO_PCI_VENDOR          0x1af4
#define VIRTIO_PCI_DEVICE_FIRST    0x1000 /* transitional ids 0x1000-0x103f */
#define VIRTIO_PCI_DEVICE_MODERN   0x1040 /* 0x1040 + device type */
#define VIRTIO_PCI_DEVICE_LAST     0x107f

/* struct virtio_pci_cap field offsets */
#define VIRTIO_CAP_CFG_TYPE   3
#define VIRTIO_CAP_BAR        4
#define VIRTIO_CAP_OFFSET     8
#define VIRTIO_CAP_LENGTH     12
#define VIRTIO_CAP_NOTIFY_MULTIPLIER 16
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2

static const char *virtio_cap_name(uint8_t type)
{
	switch (type) {
	case 1: return "common";
	case 2: return "notify";
	case 3: return "isr";
	case 4: return "device";
	case 5: return "pci";
	case 8: return "shared-memory";
	case 9: return "vendor";
	default: return "unknown";
	}
}

static const char *virtio_device_name(uint32_t type)
{
	switch (type) {
	case 1: return "net";
	case 2: return "block";
	case 3: return "console";
	case 4: return "rng";
	case 5: return "balloon";
	case 8: return "scsi";
	case 9: return "9p";
	case 16: return "gpu";
	case 18: return "input";
	case 19: return "vsock";
	default: return "other";
	}
}

static void print_bars(struct pci_address a, const char *slot)
{
	uint32_t bar;

	for (bar = 0; bar < 6; bar++) {
		uint32_t low = pci_read32(a, (uint8_t)(PCI_BAR0 + 4 * bar));
		if (low == 0)
			continue;
		if (low & 1) {
			probe_info("pci-bar", "%s bar %u io 0x%04x", slot, bar, low & ~3u);
		} else if ((low & 6) == 4 && bar < 5) {
			uint32_t high = pci_read32(a, (uint8_t)(PCI_BAR0 + 4 * (bar + 1)));
			probe_info("pci-bar", "%s bar %u mem64 0x%08x%08x%s", slot, bar, high,
				   low & ~15u, (low & 8) ? " prefetch" : "");
			bar++;
		} else {
			probe_info("pci-bar", "%s bar %u mem32 0x%08x%s", slot, bar, low & ~15u,
				   (low & 8) ? " prefetch" : "");
		}
	}
}

/* Returns the number of virtio capabilities found. */
static uint32_t walk_capabilities(struct pci_address a, const char *slot)
{
	uint32_t hops, found = 0;
	uint8_t at;

	if (!(pci_read16(a, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	at = pci_read8(a, PCI_CAPABILITIES) & 0xfc;
	for (hops = 0; at >= 0x40 && hops < PCI_CAP_MAX; hops++) {
		uint8_t id = pci_read8(a, at);
		if (id == PCI_CAP_ID_VENDOR) {
			uint8_t type = pci_read8(a, (uint8_t)(at + VIRTIO_CAP_CFG_TYPE));
			uint8_t bar = pci_read8(a, (uint8_t)(at + VIRTIO_CAP_BAR));
			uint32_t offset = pci_read32(a, (uint8_t)(at + VIRTIO_CAP_OFFSET));
			uint32_t length = pci_read32(a, (uint8_t)(at + VIRTIO_CAP_LENGTH));
			if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
				probe_info("pci-cap", "%s at 0x%02x virtio %s type %u bar %u offset 0x%x length 0x%x multiplier %u",
					   slot, at, virtio_cap_name(type), type, bar, offset, length,
					   pci_read32(a, (uint8_t)(at + VIRTIO_CAP_NOTIFY_MULTIPLIER)));
			else
				probe_info("pci-cap", "%s at 0x%02x virtio %s type %u bar %u offset 0x%x length 0x%x",
					   slot, at, virtio_cap_name(type), type, bar, offset, length);
			found++;
		} else if (id == PCI_CAP_ID_MSIX) {
			probe_info("pci-cap", "%s at 0x%02x msix table-size %u", slot, at,
				   (pci_read16(a, (uint8_t)(at + 2)) & 0x7ff) + 1u);
		} else {
			probe_info("pci-cap", "%s at 0x%02x id 0x%02x", slot, at, id);
		}
		at = pci_read8(a, (uint8_t)(at + 1)) & 0xfc;
	}
	if (hops == PCI_CAP_MAX)
		probe_info("pci-cap", "%s list longer than %u: a loop", slot, PCI_CAP_MAX);
	return found;
}

void probe_pci(void)
{
	struct pci_address a = { 0, 0, 0 };
	uint32_t functions = 0, virtio = 0;
	uint16_t bridge_vendor;
	uint8_t device, function;

	bridge_vendor = pci_read16(a, PCI_VENDOR_ID);
	for (device = 0; device < PCI_DEVICES_PER_BUS; device++) {
		for (function = 0; function < PCI_FUNCTIONS; function++) {
			uint32_t ids, class_revision;
			uint16_t vendor, id;
			char slot[8] = { '0', '0', ':', 0, 0, '.', 0, 0 };

			a.device = device;
			a.function = function;
			ids = pci_read32(a, PCI_VENDOR_ID);
			vendor = (uint16_t)ids;
			id = (uint16_t)(ids >> 16);
			if (vendor == PCI_VENDOR_NONE) {
				if (function == 0)
					break;
				continue;
			}
			functions++;
			slot[3] = "0123456789abcdef"[device >> 4];
			slot[4] = "0123456789abcdef"[device & 15];
			slot[6] = (char)('0' + function);
			class_revision = pci_read32(a, PCI_CLASS_REVISION);
			if (vendor == VIRTIO_PCI_VENDOR && id >= VIRTIO_PCI_DEVICE_FIRST &&
			    id <= VIRTIO_PCI_DEVICE_LAST) {
				uint32_t type = id >= VIRTIO_PCI_DEVICE_MODERN
					? (uint32_t)id - VIRTIO_PCI_DEVICE_MODERN
					: pci_read16(a, PCI_SUBSYSTEM_ID);
				virtio++;
				probe_info("pci-dev", "%s %04x:%04x class %06x virtio-%s irq-pin %u line %u",
					   slot, vendor, id, class_revision >> 8,
					   virtio_device_name(type), pci_read8(a, PCI_INTERRUPT_PIN),
					   pci_read8(a, PCI_INTERRUPT_LINE));
				print_bars(a, slot);
				if (walk_capabilities(a, slot) == 0)
					probe_info("pci-cap", "%s no virtio capabilities (legacy only)", slot);
			} else {
				probe_info("pci-dev", "%s %04x:%04x class %06x", slot, vendor, id,
					   class_revision >> 8);
			}
			/* Functions 1-7 exist only behind a multi-function function 0. */
			if (function == 0 && !(pci_read8(a, PCI_HEADER_TYPE) & PCI_HEADER_MULTIFUNCTION))
				break;
		}
	}
	probe_result(bridge_vendor != PCI_VENDOR_NONE, "host bridge %04x, %u functions, %u virtio",
		     bridge_vendor, functions, virtio);
}
