/* The virtio 1.x PCI driver steps (virtio 1.2 §3.1.1, §4.1.5), as Linux's
 * virtio_pci_modern takes them, without interrupts. */
#include "io.h"
#include "pit.h"
#include "string.h"
#include "virtio.h"
#include "virtio_pci.h"

#define VIRTIO_PCI_VENDOR        0x1af4
#define VIRTIO_PCI_DEVICE_MODERN 0x1040
#define VIRTIO_PCI_DEVICE_FIRST  0x1000
#define VIRTIO_PCI_DEVICE_LAST   0x107f
#define PCI_DEVICES_PER_BUS      32
#define PCI_CAP_MAX              48
#define PCI_COMMAND_MEMORY       0x2
#define PCI_COMMAND_MASTER       0x4

/* struct virtio_pci_cap: cfg_type, bar, offset, length; notify adds the multiplier. */
#define VIRTIO_CAP_CFG_TYPE   3
#define VIRTIO_CAP_BAR        4
#define VIRTIO_CAP_OFFSET     8
#define VIRTIO_CAP_LENGTH     12
#define VIRTIO_CAP_NOTIFY_MULTIPLIER 16
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

static uint32_t bar_address(struct pci_address a, uint8_t bar, const char **error)
{
	uint32_t low, high = 0;

	if (bar > 5) {
		*error = "capability names a BAR beyond 5";
		return 0;
	}
	low = pci_read32(a, (uint8_t)(PCI_BAR0 + 4 * bar));
	if (low & 1) {
		*error = "capability BAR is an I/O BAR";
		return 0;
	}
	if ((low & 6) == 4 && bar < 5)
		high = pci_read32(a, (uint8_t)(PCI_BAR0 + 4 * (bar + 1)));
	if (high != 0) {
		*error = "BAR above 4 GiB, out of reach without paging";
		return 0;
	}
	if ((low & ~15u) == 0) {
		*error = "BAR not assigned";
		return 0;
	}
	return low & ~15u;
}

static bool read_capabilities(struct virtio_device *d, const char **error)
{
	uint32_t hops;
	uint8_t at;

	d->common = d->notify = d->isr = d->device = 0;
	if (!(pci_read16(d->address, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
		*error = "no capability list";
		return false;
	}
	at = pci_read8(d->address, PCI_CAPABILITIES) & 0xfc;
	for (hops = 0; at >= 0x40 && hops < PCI_CAP_MAX; hops++) {
		if (pci_read8(d->address, at) == PCI_CAP_ID_VENDOR) {
			uint8_t type = pci_read8(d->address, (uint8_t)(at + VIRTIO_CAP_CFG_TYPE));
			uint8_t bar = pci_read8(d->address, (uint8_t)(at + VIRTIO_CAP_BAR));
			uint32_t offset = pci_read32(d->address, (uint8_t)(at + VIRTIO_CAP_OFFSET));
			uint32_t length = pci_read32(d->address, (uint8_t)(at + VIRTIO_CAP_LENGTH));
			uint32_t base;
			/* §4.1.4.1: the driver uses the first capability of each type it understands. */
			bool wanted = (type == VIRTIO_PCI_CAP_COMMON_CFG && !d->common)
				|| (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !d->notify)
				|| (type == VIRTIO_PCI_CAP_ISR_CFG && !d->isr)
				|| (type == VIRTIO_PCI_CAP_DEVICE_CFG && !d->device);
			if (wanted) {
				base = bar_address(d->address, bar, error);
				if (!base)
					return false;
				if (type == VIRTIO_PCI_CAP_COMMON_CFG) {
					d->common = base + offset;
				} else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
					d->notify = base + offset;
					d->notify_multiplier = pci_read32(d->address, (uint8_t)(at + VIRTIO_CAP_NOTIFY_MULTIPLIER));
				} else if (type == VIRTIO_PCI_CAP_ISR_CFG) {
					d->isr = base + offset;
				} else {
					d->device = base + offset;
					d->device_length = length;
				}
			}
		}
		at = pci_read8(d->address, (uint8_t)(at + 1)) & 0xfc;
	}
	if (!d->common || !d->notify || !d->isr) {
		*error = "missing common, notify or ISR capability";
		return false;
	}
	return true;
}

bool virtio_find(uint16_t type, struct virtio_device *d, const char **error)
{
	uint8_t slot;

	*error = "no such device on bus 0";
	for (slot = 0; slot < PCI_DEVICES_PER_BUS; slot++) {
		struct pci_address a = { 0, slot, 0 };
		uint32_t ids = pci_read32(a, PCI_VENDOR_ID);
		uint16_t vendor = (uint16_t)ids, id = (uint16_t)(ids >> 16);
		uint16_t found;

		if (vendor != VIRTIO_PCI_VENDOR || id < VIRTIO_PCI_DEVICE_FIRST || id > VIRTIO_PCI_DEVICE_LAST)
			continue;
		found = id >= VIRTIO_PCI_DEVICE_MODERN ? (uint16_t)(id - VIRTIO_PCI_DEVICE_MODERN)
			: pci_read16(a, PCI_SUBSYSTEM_ID);
		if (found != type)
			continue;
		d->address = a;
		d->type = type;
		if (!read_capabilities(d, error))
			return false;
		/* Memory decoding for the BAR, bus mastering for the rings (QEMU's devices need it). */
		pci_write16(a, PCI_COMMAND, (uint16_t)(pci_read16(a, PCI_COMMAND) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
		return true;
	}
	return false;
}

uint8_t virtio_status(const struct virtio_device *d)
{
	return mmio_read8(d->common + COMMON_DEVICE_STATUS);
}

static void set_status(struct virtio_device *d, uint8_t status)
{
	mmio_write8(d->common + COMMON_DEVICE_STATUS, status);
}

bool virtio_negotiate(struct virtio_device *d, const char **error)
{
	return virtio_negotiate_features(d, 0, 0, error);
}

bool virtio_negotiate_features(struct virtio_device *d, uint32_t wanted, uint32_t *accepted, const char **error)
{
	uint32_t polls, low;

	/* §4.1.4.3.2: after writing 0 the driver waits for device_status to read 0. */
	set_status(d, 0);
	for (polls = 0; virtio_status(d) != 0; polls++) {
		if (polls == VIRTIO_ANSWER_WAIT_MS) {
			*error = "device_status never read 0 after reset";
			return false;
		}
		pit_delay_ms(1);
	}
	set_status(d, STATUS_ACKNOWLEDGE);
	set_status(d, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
	mmio_write32(d->common + COMMON_DEVICE_FEATURE_SELECT, 0);
	d->offered = mmio_read32(d->common + COMMON_DEVICE_FEATURE);
	mmio_write32(d->common + COMMON_DEVICE_FEATURE_SELECT, 1);
	d->offered |= (uint64_t)mmio_read32(d->common + COMMON_DEVICE_FEATURE) << 32;
	if (!((d->offered >> 32) & VIRTIO_F_VERSION_1_HIGH)) {
		*error = "VIRTIO_F_VERSION_1 not offered";
		set_status(d, STATUS_FAILED);
		return false;
	}
	/* VIRTIO_F_VERSION_1 and what the caller wants of the offer: with nothing wanted, the
	 * simplest driver the device must accept. */
	low = wanted & (uint32_t)d->offered;
	if (accepted)
		*accepted = low;
	mmio_write32(d->common + COMMON_DRIVER_FEATURE_SELECT, 0);
	mmio_write32(d->common + COMMON_DRIVER_FEATURE, low);
	mmio_write32(d->common + COMMON_DRIVER_FEATURE_SELECT, 1);
	mmio_write32(d->common + COMMON_DRIVER_FEATURE, VIRTIO_F_VERSION_1_HIGH);
	set_status(d, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
	if (!(virtio_status(d) & STATUS_FEATURES_OK)) {
		*error = "FEATURES_OK did not stick";
		set_status(d, STATUS_FAILED);
		return false;
	}
	return true;
}

bool virtio_queue_setup(struct virtio_device *d, struct virtq *q, uint16_t index, void *page, const char **error)
{
	uint32_t base = (uint32_t)page;
	uint16_t max;

	if (index >= mmio_read16(d->common + COMMON_NUM_QUEUES)) {
		*error = "queue beyond num_queues";
		return false;
	}
	mmio_write16(d->common + COMMON_QUEUE_SELECT, index);
	max = mmio_read16(d->common + COMMON_QUEUE_SIZE);
	if (max == 0) {
		*error = "queue not available (size 0)";
		return false;
	}
	q->index = index;
	q->size = max < VIRTQ_SIZE ? max : VIRTQ_SIZE;
	q->avail_index = 0;
	q->last_used = 0;
	q->memory = page;
	memset(page, 0, 4096);
	mmio_write16(d->common + COMMON_QUEUE_SIZE, q->size);
	mmio_write32(d->common + COMMON_QUEUE_DESC, base + RING_DESCRIPTORS);
	mmio_write32(d->common + COMMON_QUEUE_DESC + 4, 0);
	mmio_write32(d->common + COMMON_QUEUE_DRIVER, base + RING_AVAILABLE);
	mmio_write32(d->common + COMMON_QUEUE_DRIVER + 4, 0);
	mmio_write32(d->common + COMMON_QUEUE_DEVICE, base + RING_USED);
	mmio_write32(d->common + COMMON_QUEUE_DEVICE + 4, 0);
	q->notify_address = d->notify + (uint32_t)mmio_read16(d->common + COMMON_QUEUE_NOTIFY_OFF) * d->notify_multiplier;
	mmio_write16(d->common + COMMON_QUEUE_ENABLE, 1);
	if (virtio_status(d) & STATUS_DEVICE_NEEDS_RESET) {
		*error = "DEVICE_NEEDS_RESET after queue set-up";
		return false;
	}
	return true;
}

uint8_t virtio_queue_setup_raw(struct virtio_device *d, struct virtq *q, uint16_t index,
			       uint32_t descriptors, uint32_t driver, uint32_t device_area)
{
	mmio_write16(d->common + COMMON_QUEUE_SELECT, index);
	q->index = index;
	q->size = VIRTQ_SIZE;
	q->avail_index = 0;
	q->last_used = 0;
	q->memory = (volatile uint8_t *)descriptors;
	mmio_write16(d->common + COMMON_QUEUE_SIZE, q->size);
	mmio_write32(d->common + COMMON_QUEUE_DESC, descriptors);
	mmio_write32(d->common + COMMON_QUEUE_DESC + 4, 0);
	mmio_write32(d->common + COMMON_QUEUE_DRIVER, driver);
	mmio_write32(d->common + COMMON_QUEUE_DRIVER + 4, 0);
	mmio_write32(d->common + COMMON_QUEUE_DEVICE, device_area);
	mmio_write32(d->common + COMMON_QUEUE_DEVICE + 4, 0);
	q->notify_address = d->notify + (uint32_t)mmio_read16(d->common + COMMON_QUEUE_NOTIFY_OFF) * d->notify_multiplier;
	mmio_write16(d->common + COMMON_QUEUE_ENABLE, 1);
	return virtio_status(d);
}

uint8_t virtio_wait_status(const struct virtio_device *d, uint8_t bits, uint32_t timeout_ms)
{
	uint32_t waited;
	uint8_t status;

	for (waited = 0; !((status = virtio_status(d)) & bits) && waited < timeout_ms; waited++)
		pit_delay_ms(1);
	return status;
}

bool virtio_driver_ok(struct virtio_device *d, const char **error)
{
	uint8_t status;

	set_status(d, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
	status = virtio_status(d);
	if (status & (STATUS_DEVICE_NEEDS_RESET | STATUS_FAILED) || !(status & STATUS_DRIVER_OK)) {
		*error = "DRIVER_OK refused";
		return false;
	}
	return true;
}

void virtq_offer_chain_at_0(struct virtq *q)
{
	volatile uint16_t *avail = (volatile uint16_t *)(q->memory + RING_AVAILABLE);

	avail[2 + q->avail_index % q->size] = 0;
	/* §2.7.13: the ring entry before the index; x86 keeps stores in order, the compiler must too. */
	compiler_barrier();
	q->avail_index++;
	avail[1] = q->avail_index;
	compiler_barrier();
	mmio_write16(q->notify_address, q->index);
}

int32_t virtio_request(struct virtio_device *d, struct virtq *q, const struct virtio_buffer *buffers,
		       uint32_t count, uint32_t timeout_ms)
{
	volatile struct virtq_desc *table = (volatile struct virtq_desc *)(q->memory + RING_DESCRIPTORS);
	volatile uint16_t *used = (volatile uint16_t *)(q->memory + RING_USED);
	uint32_t i, waited;
	uint16_t used_index;

	if (count == 0 || count > q->size)
		return -1;
	/* One request in flight: its chain always starts at descriptor 0. */
	for (i = 0; i < count; i++) {
		table[i].address = (uint32_t)buffers[i].address;
		table[i].length = buffers[i].length;
		table[i].flags = (uint16_t)((buffers[i].writable ? VIRTQ_DESC_F_WRITE : 0)
					    | (i + 1 < count ? VIRTQ_DESC_F_NEXT : 0));
		table[i].next = (uint16_t)(i + 1 < count ? i + 1 : 0);
	}
	virtq_offer_chain_at_0(q);

	for (waited = 0; (used_index = used[1]) == q->last_used; waited++) {
		if (waited == timeout_ms)
			return -1;
		pit_delay_ms(1);
	}
	compiler_barrier();
	i = q->last_used % q->size;
	q->last_used++;
	(void)mmio_read8(d->isr); /* acknowledge: reading the ISR lowers INTx */
	/* struct virtq_used_elem { le32 id; le32 len; } after flags and idx */
	return (int32_t)((volatile uint32_t *)(q->memory + RING_USED + 4))[2 * i + 1];
}

/* A full barrier: the store of avail->idx must be visible before the load of used->flags (§2.7.13.4),
 * which x86 only guarantees with a locked instruction (mfence would need SSE2). */
static inline void full_barrier(void)
{
	__asm__ volatile("lock; addl $0, 0(%%esp)" : : : "memory", "cc");
}

void virtio_queue_add(struct virtq *q, uint16_t head, const struct virtio_buffer *buffers, uint32_t count)
{
	volatile struct virtq_desc *table = (volatile struct virtq_desc *)(q->memory + RING_DESCRIPTORS);
	volatile uint16_t *avail = (volatile uint16_t *)(q->memory + RING_AVAILABLE);
	uint32_t i;

	for (i = 0; i < count; i++) {
		uint16_t d = (uint16_t)((head + i) % q->size);
		table[d].address = (uint32_t)buffers[i].address;
		table[d].length = buffers[i].length;
		table[d].flags = (uint16_t)((buffers[i].writable ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < count ? VIRTQ_DESC_F_NEXT : 0));
		table[d].next = (uint16_t)((d + 1) % q->size);
	}
	avail[2 + q->avail_index % q->size] = head;
	compiler_barrier();
	q->avail_index++;
	avail[1] = q->avail_index;
}

void virtio_queue_kick(struct virtq *q)
{
	volatile uint16_t *used = (volatile uint16_t *)(q->memory + RING_USED);

	full_barrier();
	if (!(used[0] & 1)) /* VIRTQ_USED_F_NO_NOTIFY */
		mmio_write16(q->notify_address, q->index);
}

bool virtio_queue_take(struct virtq *q, uint32_t *id, uint32_t *length)
{
	volatile uint16_t *used = (volatile uint16_t *)(q->memory + RING_USED);
	volatile uint32_t *elements = (volatile uint32_t *)(q->memory + RING_USED + 4);
	uint32_t slot;

	if (used[1] == q->last_used)
		return false;
	compiler_barrier(); /* x86 does not reorder loads: the element after the index */
	slot = q->last_used % q->size;
	*id = elements[2 * slot];
	*length = elements[2 * slot + 1];
	q->last_used++;
	return true;
}

void virtio_queue_no_interrupts(struct virtq *q)
{
	volatile uint16_t *avail = (volatile uint16_t *)(q->memory + RING_AVAILABLE);

	avail[0] = 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT */
}

uint32_t virtio_config_read32(const struct virtio_device *d, uint32_t offset)
{
	return mmio_read32(d->device + offset);
}
