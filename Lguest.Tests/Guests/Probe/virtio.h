/* A minimal virtio 1.x ("modern") PCI driver, virtio 1.2 §4.1 and §3.1.1:
 * find a device on bus 0, reset it, negotiate VIRTIO_F_VERSION_1 only, set
 * up split virtqueues, DRIVER_OK, and run one request at a time by polling
 * the used ring (no interrupts: the ISR is read after each request so a
 * shared INTx line goes down again). */
#ifndef PROBE_VIRTIO_H
#define PROBE_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "pci.h"

#define VIRTIO_TYPE_NET     1
#define VIRTIO_TYPE_BLOCK   2
#define VIRTIO_TYPE_CONSOLE 3
#define VIRTIO_TYPE_RNG     4

/* The queue size the probe uses (or the device's maximum if smaller). */
#define VIRTQ_SIZE 8

/* The longest the probe waits, in PIT milliseconds, for a device to do what it must do (use a request,
 * enter DEVICE_NEEDS_RESET, read 0 after a reset). A sound device ends the wait as soon as it answers, so
 * only a failing run waits this long. It is generous because the device's side may be slow the first time
 * it takes a path: inside the nested bed lguest runs in an emulated L1, where JIT-compiling a path and
 * building the console logger for its first warning took over a second (1000 ms here timed out there). */
#define VIRTIO_ANSWER_WAIT_MS 30000

struct virtio_device {
	struct pci_address address;
	uint16_t type;
	uint32_t common;   /* MMIO address of struct virtio_pci_common_cfg */
	uint32_t notify;   /* MMIO address of the notification area */
	uint32_t notify_multiplier;
	uint32_t isr;      /* MMIO address of the ISR byte */
	uint32_t device;   /* MMIO address of the device configuration, 0 if none */
	uint32_t device_length;
	uint64_t offered;  /* the device's feature bits */
};

struct virtq {
	uint16_t index;
	uint16_t size;
	uint16_t avail_index;  /* the driver's copy of avail->idx */
	uint16_t last_used;
	uint32_t notify_address;
	volatile uint8_t *memory; /* one 4 KiB page: descriptors, available ring, used ring */
};

struct virtio_buffer {
	void *address;
	uint32_t length;
	bool writable;
};

/* Finds the first function of the virtio device type on bus 0 (modern ID 0x1040 + type, or a
 * transitional ID with its type in the subsystem ID) that has the modern capabilities. */
bool virtio_find(uint16_t type, struct virtio_device *device, const char **error);

/* Reset, ACKNOWLEDGE, DRIVER, VIRTIO_F_VERSION_1 only, FEATURES_OK read back. */
bool virtio_negotiate(struct virtio_device *device, const char **error);

/* The same, also accepting those of the device-specific feature bits 0-31 in `wanted` that the device
 * offers; `accepted` (may be 0) gets the bits 0-31 written. */
bool virtio_negotiate_features(struct virtio_device *device, uint32_t wanted, uint32_t *accepted, const char **error);

/* Sets queue `index` up in `page` (4 KiB aligned, zeroed here) and enables it. */
bool virtio_queue_setup(struct virtio_device *device, struct virtq *queue, uint16_t index, void *page,
			const char **error);

/* For the hostile probe: sets queue `index` up with the ring addresses given, as a broken driver
 * might, and enables it. Returns the device status afterwards. */
uint8_t virtio_queue_setup_raw(struct virtio_device *device, struct virtq *queue, uint16_t index,
			       uint32_t descriptors, uint32_t driver, uint32_t device_area);

/* Waits up to timeout_ms for any of `bits` in device_status; returns the status last read. */
uint8_t virtio_wait_status(const struct virtio_device *device, uint8_t bits, uint32_t timeout_ms);

#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40

/* Sets DRIVER_OK; false if the device then reports DEVICE_NEEDS_RESET or FAILED. */
bool virtio_driver_ok(struct virtio_device *device, const char **error);

/* Makes one chain of `count` buffers available, notifies, and waits up to
 * timeout_ms of PIT time for it to be used. Returns the used length, or -1. */
/* Puts the chain that starts at descriptor 0 on the available ring and notifies the device. */
void virtq_offer_chain_at_0(struct virtq *queue);

int32_t virtio_request(struct virtio_device *device, struct virtq *queue,
		       const struct virtio_buffer *buffers, uint32_t count, uint32_t timeout_ms);

/* Streaming use of a queue (the network card), without waiting: */
/* Writes a chain of `count` buffers at descriptors head..head+count-1 and makes it available (no notification). */
void virtio_queue_add(struct virtq *queue, uint16_t head, const struct virtio_buffer *buffers, uint32_t count);
/* Notifies the device of what was added, unless it set VIRTQ_USED_F_NO_NOTIFY (checked after a full barrier). */
void virtio_queue_kick(struct virtq *queue);
/* Takes the next used element; false if the device has returned nothing new. */
bool virtio_queue_take(struct virtq *queue, uint32_t *id, uint32_t *length);
/* Sets VIRTQ_AVAIL_F_NO_INTERRUPT: the driver polls and wants no interrupt for this queue. */
void virtio_queue_no_interrupts(struct virtq *queue);

uint8_t virtio_status(const struct virtio_device *device);
uint32_t virtio_config_read32(const struct virtio_device *device, uint32_t offset);

#endif
