/* blk-durability: writes numbered sectors to the block device in batches, a
 * FLUSH after each batch, and prints the number of the last sector flushed,
 * until the disk is full or the launcher is killed. The host then checks that
 * every sector up to the last number printed is on the image intact.
 *
 *   probe.durability-batch=N   sectors per batch (one write request), 1-64, default 8
 *   probe.durability-first=S   the sector numbered 1, 1-65535, default 1 (sector 0 is the host's)
 *
 * The sector numbered n (at sector first + n - 1) holds 128 little-endian
 * 32-bit words:
 *   word 0     0x52554447 ("GDUR")
 *   word 1     n
 *   word 2     a checksum: the sum of words 3-127, plus n
 *   word i>=3  n * 0x9e3779b9 + i * 0x01000193
 * Lines: `PROBE flushed N` each time a FLUSH after a batch has completed with
 * VIRTIO_BLK_S_OK, then `PROBE blk-durability ok|fail ...` when the disk is
 * full or a request fails. A batch costs a few thousand guest instructions:
 * the words are computed, not copied from a pattern, and the used ring is
 * polled without the driver's 1 ms steps. */
#include "io.h"
#include "pit.h"
#include "probe.h"
#include "virtio.h"
#include "virtio_pci.h"

#define SECTOR_SIZE 512
#define SECTOR_WORDS (SECTOR_SIZE / 4)
#define MAX_BATCH 64
#define VIRTIO_BLK_T_OUT   1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_S_OK    0
#define WAIT_MS VIRTIO_ANSWER_WAIT_MS
#define MAGIC 0x52554447u

struct blk_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static uint8_t page[4096] __attribute__((aligned(4096)));
static uint32_t data[MAX_BATCH][SECTOR_WORDS];
static struct blk_header header;
static volatile uint8_t status;

static void fill(uint32_t *words, uint32_t n)
{
	uint32_t i, sum = n;

	words[0] = MAGIC;
	words[1] = n;
	for (i = 3; i < SECTOR_WORDS; i++) {
		words[i] = n * 0x9e3779b9u + i * 0x01000193u;
		sum += words[i];
	}
	words[2] = sum;
}

/* One request: header, the batch's data (when length is not 0), status;
 * true once it is used with VIRTIO_BLK_S_OK. */
static bool request(struct virtio_device *d, struct virtq *q, uint32_t type, uint64_t sector, uint32_t length)
{
	volatile struct virtq_desc *table = (volatile struct virtq_desc *)(q->memory + RING_DESCRIPTORS);
	volatile uint16_t *used = (volatile uint16_t *)(q->memory + RING_USED);
	struct pit_stopwatch watch;
	uint32_t spins = 0;
	uint16_t n = 0;

	header.type = type;
	header.reserved = 0;
	header.sector = sector;
	status = 0xff;
	table[n].address = (uint32_t)&header;
	table[n].length = sizeof(header);
	table[n].flags = VIRTQ_DESC_F_NEXT;
	table[n].next = (uint16_t)(n + 1);
	n++;
	if (length) {
		table[n].address = (uint32_t)data;
		table[n].length = length;
		table[n].flags = VIRTQ_DESC_F_NEXT;
		table[n].next = (uint16_t)(n + 1);
		n++;
	}
	table[n].address = (uint32_t)&status;
	table[n].length = 1;
	table[n].flags = VIRTQ_DESC_F_WRITE;
	table[n].next = 0;
	virtq_offer_chain_at_0(q);

	pit_stopwatch_start(&watch);
	while (used[1] == q->last_used) {
		cpu_pause();
		/* A PIT poll is three port accesses: look at the clock now and then only. */
		if ((++spins & 63) == 0 && (pit_stopwatch_poll(&watch), pit_stopwatch_ms(&watch) > WAIT_MS))
			return false;
	}
	compiler_barrier();
	q->last_used++;
	(void)mmio_read8(d->isr);
	return status == VIRTIO_BLK_S_OK;
}

void probe_blk_durability(void)
{
	uint32_t batch = option_u32("durability-batch", 8, 1, MAX_BATCH);
	uint32_t first = option_u32("durability-first", 1, 1, 0xffff);
	struct virtio_device d;
	struct virtq q;
	const char *error;
	uint64_t capacity;
	uint32_t n = 0, i;

	if (!virtio_find(VIRTIO_TYPE_BLOCK, &d, &error) || !virtio_negotiate(&d, &error)
	    || !virtio_queue_setup(&d, &q, 0, page, &error) || !virtio_driver_ok(&d, &error)) {
		probe_result(false, "%s", error);
		return;
	}
	capacity = virtio_config_read32(&d, 0) | (uint64_t)virtio_config_read32(&d, 4) << 32;
	if (q.size < 3) {
		probe_result(false, "queue of %u descriptors: a request needs 3", q.size);
		return;
	}
	for (;;) {
		uint32_t count = batch;
		if (first + n >= capacity) {
			probe_result(true, "disk full: %u sectors written and flushed from sector %u", n, first);
			return;
		}
		if (first + n + count > capacity)
			count = (uint32_t)(capacity - first - n);
		for (i = 0; i < count; i++)
			fill(data[i], n + i + 1);
		if (!request(&d, &q, VIRTIO_BLK_T_OUT, first + n, count * SECTOR_SIZE)) {
			probe_result(false, "write of sectors %u-%u failed (status %u)", first + n, first + n + count - 1, status);
			return;
		}
		n += count;
		if (!request(&d, &q, VIRTIO_BLK_T_FLUSH, 0, 0)) {
			probe_result(false, "flush after %u failed (status %u)", n, status);
			return;
		}
		probe_info("flushed", "%u", n);
	}
}
