/* The virtio probes: the block, entropy and console devices driven through
 * the minimal driver in virtio.c. They run only when named in probe.only
 * (a launcher without the device would fail them). Each prints what it saw,
 * for the host to check against its side: the image file, the console
 * streams. */
#include "probe.h"
#include "string.h"
#include "virtio.h"

#define REQUEST_TIMEOUT_MS VIRTIO_ANSWER_WAIT_MS

/* struct virtio_blk_req header and status, virtio 1.2 §5.2.6 */
#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK     0
#define SECTOR_SIZE         512

struct blk_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static uint8_t queue_pages[2][4096] __attribute__((aligned(4096)));
static uint8_t sector_out[SECTOR_SIZE], sector_in[SECTOR_SIZE], sector_zero[SECTOR_SIZE];
static struct blk_header header;
static volatile uint8_t status;
static char id[21];
static uint8_t random_bytes[2][32];
static char received[65];

static bool bring_up(uint16_t type, struct virtio_device *device, struct virtq *queues, uint16_t count,
		     const char **error)
{
	uint16_t i;

	if (!virtio_find(type, device, error) || !virtio_negotiate(device, error))
		return false;
	for (i = 0; i < count; i++) {
		if (!virtio_queue_setup(device, &queues[i], i, queue_pages[i], error))
			return false;
	}
	return virtio_driver_ok(device, error);
}

/* Copies at most max printable characters of text (others as '.'), zero-terminated. */
static void printable(char *out, const uint8_t *text, uint32_t length, uint32_t max)
{
	uint32_t i;

	for (i = 0; i < length && i < max; i++)
		out[i] = text[i] >= 0x20 && text[i] < 0x7f ? (char)text[i] : '.';
	out[i] = '\0';
}

static uint8_t blk_request(struct virtio_device *d, struct virtq *q, uint32_t type, uint64_t sector,
			   void *data, uint32_t length, bool device_writes, int32_t *used)
{
	struct virtio_buffer chain[3] = {
		{ &header, sizeof(header), false },
		{ data, length, device_writes },
		{ (void *)&status, 1, true },
	};
	header.type = type;
	header.reserved = 0;
	header.sector = sector;
	status = 0xff;
	if (length == 0) {
		chain[1] = chain[2];
		*used = virtio_request(d, q, chain, 2, REQUEST_TIMEOUT_MS);
	} else {
		*used = virtio_request(d, q, chain, 3, REQUEST_TIMEOUT_MS);
	}
	return *used < 0 ? 0xfe : status;
}

/* Reads sector 0 (the host puts text there), writes probe.blk-sector (default 1) with a
 * pattern, flushes, reads it back, and asks for the device ID. */
void probe_virtio_blk(void)
{
	struct virtio_device d;
	struct virtq q;
	const char *error;
	uint64_t capacity;
	uint32_t sector = option_u32("blk-sector", 1, 1, 0xffff), i;
	uint8_t s_read0, s_write, s_flush, s_read, s_id;
	int32_t used;
	char text[33];

	if (!bring_up(VIRTIO_TYPE_BLOCK, &d, &q, 1, &error)) {
		probe_result(false, "%s", error);
		return;
	}
	capacity = virtio_config_read32(&d, 0) | (uint64_t)virtio_config_read32(&d, 4) << 32;
	s_read0 = blk_request(&d, &q, VIRTIO_BLK_T_IN, 0, sector_zero, SECTOR_SIZE, true, &used);
	printable(text, sector_zero, SECTOR_SIZE, 32);
	for (i = 0; i < SECTOR_SIZE; i++)
		sector_out[i] = (uint8_t)(i * 7 + sector);
	memcpy(sector_out, "lguest probe wrote this sector.", 31);
	s_write = blk_request(&d, &q, VIRTIO_BLK_T_OUT, sector, sector_out, SECTOR_SIZE, false, &used);
	s_flush = blk_request(&d, &q, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &used);
	memset(sector_in, 0, sizeof(sector_in));
	s_read = blk_request(&d, &q, VIRTIO_BLK_T_IN, sector, sector_in, SECTOR_SIZE, true, &used);
	memset(id, 0, sizeof(id));
	s_id = blk_request(&d, &q, VIRTIO_BLK_T_GET_ID, 0, id, 20, true, &used);
	printable(id, (const uint8_t *)id, strnlen(id, 20), 20);
	probe_result(s_read0 == VIRTIO_BLK_S_OK && s_write == VIRTIO_BLK_S_OK && s_flush == VIRTIO_BLK_S_OK
		     && s_read == VIRTIO_BLK_S_OK && s_id == VIRTIO_BLK_S_OK && memcmp(sector_in, sector_out, SECTOR_SIZE) == 0,
		     "capacity %llu serial \"%s\" sector0 \"%s\" wrote sector %u read back %s status %u/%u/%u/%u/%u",
		     capacity, id, text, sector, memcmp(sector_in, sector_out, SECTOR_SIZE) == 0 ? "equal" : "different",
		     s_read0, s_write, s_flush, s_read, s_id);
}

/* Two 32-byte requests: both filled, not zero, not equal. */
void probe_virtio_rng(void)
{
	struct virtio_device d;
	struct virtq q;
	const char *error;
	int32_t lengths[2];
	uint32_t r, i, zeros = 0;

	if (!bring_up(VIRTIO_TYPE_RNG, &d, &q, 1, &error)) {
		probe_result(false, "%s", error);
		return;
	}
	for (r = 0; r < 2; r++) {
		struct virtio_buffer buffer = { random_bytes[r], sizeof(random_bytes[r]), true };
		memset(random_bytes[r], 0, sizeof(random_bytes[r]));
		lengths[r] = virtio_request(&d, &q, &buffer, 1, REQUEST_TIMEOUT_MS);
	}
	for (i = 0; i < sizeof(random_bytes[0]); i++)
		zeros += random_bytes[0][i] == 0;
	probe_result(lengths[0] == 32 && lengths[1] == 32 && zeros < 8
		     && memcmp(random_bytes[0], random_bytes[1], sizeof(random_bytes[0])) != 0,
		     "%d+%d bytes %02x%02x%02x%02x%02x%02x%02x%02x...", lengths[0], lengths[1],
		     random_bytes[0][0], random_bytes[0][1], random_bytes[0][2], random_bytes[0][3],
		     random_bytes[0][4], random_bytes[0][5], random_bytes[0][6], random_bytes[0][7]);
}

/* Sends a line on transmitq 1, then posts a 64-byte buffer on receiveq 0 and
 * waits up to probe.console-wait ms (default 2000) for host input. */
void probe_virtio_console(void)
{
	static const char line[] = "hello from the probe on virtio-console\r\n";
	static uint8_t input[64];
	struct virtio_device d;
	struct virtq queues[2];
	const char *error;
	int32_t sent, got;

	if (!bring_up(VIRTIO_TYPE_CONSOLE, &d, queues, 2, &error)) {
		probe_result(false, "%s", error);
		return;
	}
	{
		struct virtio_buffer out = { (void *)line, sizeof(line) - 1, false };
		sent = virtio_request(&d, &queues[1], &out, 1, REQUEST_TIMEOUT_MS);
	}
	{
		struct virtio_buffer in = { input, sizeof(input), true };
		got = virtio_request(&d, &queues[0], &in, 1, option_u32("console-wait", 2000, 1, 60000));
	}
	printable(received, input, got > 0 ? (uint32_t)got : 0, 64);
	probe_result(sent == 0, "sent %u bytes (used %d) received %d \"%s\"", (uint32_t)sizeof(line) - 1, sent, got, received);
}

/* A driver that breaks the rules, on the entropy device: the device must enter
 * DEVICE_NEEDS_RESET (and stop), and work again after a reset. Twice: a
 * descriptor table outside RAM (probe.hostile-address, default 0xf0000000,
 * where nothing is), and a request whose buffer lies there. Other devices
 * must not notice: run virtio-blk after this one. */
void probe_virtio_hostile(void)
{
	uint32_t outside = option_u32("hostile-address", 0xf0000000u, 0x1000, 0xfffff000u);
	struct virtio_device d;
	struct virtq q;
	const char *error;
	uint8_t table_status, buffer_status;
	int32_t recovered;

	if (!virtio_find(VIRTIO_TYPE_RNG, &d, &error) || !virtio_negotiate(&d, &error)) {
		probe_result(false, "%s", error);
		return;
	}
	/* 1: the descriptor table outside RAM (the rings themselves are fine). */
	memset(queue_pages[0], 0, 4096);
	virtio_queue_setup_raw(&d, &q, 0, outside, (uint32_t)queue_pages[0] + 0x100, (uint32_t)queue_pages[0] + 0x200);
	if (!(virtio_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
		/* A device that checks only when it uses the queue: start it and notify. */
		struct virtio_buffer buffer = { random_bytes[0], 16, true };
		if (virtio_driver_ok(&d, &error))
			(void)virtio_request(&d, &q, &buffer, 1, 50);
	}
	table_status = virtio_wait_status(&d, VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_ANSWER_WAIT_MS);

	/* 2: good rings, a request whose buffer is outside RAM. */
	if (!virtio_negotiate(&d, &error) || !virtio_queue_setup(&d, &q, 0, queue_pages[0], &error)
	    || !virtio_driver_ok(&d, &error)) {
		probe_result(false, "set-up after the first reset: %s", error);
		return;
	}
	{
		struct virtio_buffer buffer = { (void *)outside, 16, true };
		(void)virtio_request(&d, &q, &buffer, 1, 50);
	}
	buffer_status = virtio_wait_status(&d, VIRTIO_STATUS_DEVICE_NEEDS_RESET, VIRTIO_ANSWER_WAIT_MS);

	/* 3: reset and use the device properly. */
	recovered = -1;
	if (virtio_negotiate(&d, &error) && virtio_queue_setup(&d, &q, 0, queue_pages[0], &error)
	    && virtio_driver_ok(&d, &error)) {
		struct virtio_buffer buffer = { random_bytes[1], 32, true };
		recovered = virtio_request(&d, &q, &buffer, 1, REQUEST_TIMEOUT_MS);
	}
	probe_result((table_status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) && (buffer_status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		     && recovered == 32,
		     "table-outside-ram status 0x%02x, buffer-outside-ram status 0x%02x, after reset %d bytes",
		     table_status, buffer_status, recovered);
}
