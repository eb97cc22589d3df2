/* The virtio 1.x PCI register layout and the split ring's structures (virtio 1.2 §4.1.4, §2.7), shared
 * by the driver (virtio.c) and the drivers that break its rules on purpose (attack.c, durability.c). */
#ifndef PROBE_VIRTIO_PCI_H
#define PROBE_VIRTIO_PCI_H

#include <stdint.h>

/* struct virtio_pci_common_cfg, §4.1.4.3 */
#define COMMON_DEVICE_FEATURE_SELECT 0x00
#define COMMON_DEVICE_FEATURE        0x04
#define COMMON_DRIVER_FEATURE_SELECT 0x08
#define COMMON_DRIVER_FEATURE        0x0c
#define COMMON_CONFIG_MSIX_VECTOR    0x10
#define COMMON_NUM_QUEUES            0x12
#define COMMON_DEVICE_STATUS         0x14
#define COMMON_CONFIG_GENERATION     0x15
#define COMMON_QUEUE_SELECT          0x16
#define COMMON_QUEUE_SIZE            0x18
#define COMMON_QUEUE_MSIX_VECTOR     0x1a
#define COMMON_QUEUE_ENABLE          0x1c
#define COMMON_QUEUE_NOTIFY_OFF      0x1e
#define COMMON_QUEUE_DESC            0x20
#define COMMON_QUEUE_DRIVER          0x28
#define COMMON_QUEUE_DEVICE          0x30
#define COMMON_SIZE                  0x38

/* Device status bits, §2.1 */
#define STATUS_ACKNOWLEDGE        1
#define STATUS_DRIVER             2
#define STATUS_DRIVER_OK          4
#define STATUS_FEATURES_OK        8
#define STATUS_DEVICE_NEEDS_RESET 0x40
#define STATUS_FAILED             0x80

/* Feature bits, §6 */
#define VIRTIO_F_INDIRECT_DESC  28
#define VIRTIO_F_EVENT_IDX      29
#define VIRTIO_F_VERSION_1_HIGH 1 /* bit 32: bit 0 of the high word */

/* Split ring layout inside a queue's page (§2.7): descriptors at 0, the
 * available ring at 0x100, the used ring at 0x200 (all aligned enough for
 * queues of up to 16 entries). */
#define RING_DESCRIPTORS 0x000
#define RING_AVAILABLE   0x100
#define RING_USED        0x200
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

struct virtq_desc {
	uint64_t address;
	uint32_t length;
	uint16_t flags;
	uint16_t next;
};

static inline void compiler_barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

#endif
