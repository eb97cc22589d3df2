/* The attack mode (probe `virtio-attack`): a driver that breaks the virtio
 * rules on purpose, through one device's BAR and rings, one attack at a time.
 * After each attack the probe checks what a sound device must have done
 * (entered DEVICE_NEEDS_RESET, refused FEATURES_OK, or answered the request
 * with an error status; or, for the legal edge cases mixed in, served it),
 * then resets the device and uses it properly ("recovered"), then uses
 * another device that was brought up once at the start and never touched by
 * the attacks ("witness"): a broken device must cost nobody else.
 *
 *   probe.attack-target=blk|rng|console|net   the device attacked (default rng)
 *   probe.attacks=NAME,...                     the attacks to run (default all)
 *   probe.attack-witness=blk|rng|console|net|none   (default rng, or blk when rng is attacked)
 *   probe.hostile-address=ADDRESS              a guest-physical address with no RAM (default 0xf0000000)
 *
 * One line per attack, `PROBE attack/<target>/<name> ok|fail <detail>`, then
 * the probe's own `PROBE virtio-attack ok|fail ...`. Everything is polled
 * (interrupts stay off), waits are PIT-timed, and the work is kept small: the
 * whole list costs well under a million guest instructions per target (see
 * README.md, "Cost"). */
#include <stdarg.h>

#include "format.h"
#include "io.h"
#include "pci.h"
#include "pit.h"
#include "probe.h"
#include "string.h"
#include "virtio.h"
#include "virtio_pci.h"

#define QUEUE_SIZE          8     /* every attack's queue, unless it is about the size */
#define REQUEST_WAIT_MS     VIRTIO_ANSWER_WAIT_MS  /* for a request the device should serve or refuse */
#define NEEDS_RESET_WAIT_MS VIRTIO_ANSWER_WAIT_MS  /* for a worker to find what the driver broke */
#define MEMMAP_MAX_ENTRIES  128
#define SECTOR_SIZE         512

/* virtio-blk, virtio 1.2 §5.2.6 */
#define VIRTIO_BLK_T_IN      0
#define VIRTIO_BLK_T_OUT     1
#define VIRTIO_BLK_T_GET_ID  8
#define VIRTIO_BLK_S_OK      0
#define VIRTIO_BLK_S_IOERR   1
#define VIRTIO_BLK_S_UNSUPP  2

/* virtio-net's header with VIRTIO_F_VERSION_1 (struct virtio_net_hdr_v1, §5.1.6) */
#define VIRTIO_NET_HDR_SIZE 12
#define NET_FRAME_SIZE      60

struct target {
	const char *name;
	uint16_t type;
	uint16_t queues;   /* queues set up: 2 for the console and the network card (receive, transmit) */
	uint16_t pop;      /* the queue the device takes buffers from as soon as it is notified */
	bool readable;     /* that queue's buffers are device-readable (a transmit queue) */
	struct virtio_device d;
	struct virtq q[2];
	uint8_t (*rings)[4096];  /* one page per queue */
	uint8_t *scratch;        /* a page of buffers: block header at 0, status at 16, data from 512 */
};

struct blk_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

enum outcome_kind { OUTCOME_TIMEOUT, OUTCOME_USED, OUTCOME_NEEDS_RESET };

struct outcome {
	enum outcome_kind kind;
	uint32_t length;  /* the used length, when used */
	uint8_t status;   /* device_status afterwards */
};

struct report {
	char text[384];
	uint32_t length;
};

static uint8_t target_rings[2][4096] __attribute__((aligned(4096)));
static uint8_t witness_rings[2][4096] __attribute__((aligned(4096)));
static uint8_t target_scratch[4096] __attribute__((aligned(4096)));
static uint8_t witness_scratch[4096] __attribute__((aligned(4096)));
static volatile struct virtq_desc indirect_table[256] __attribute__((aligned(4096)));

static uint32_t outside;  /* probe.hostile-address: no RAM there */
static uint32_t ram_end;  /* the end of the highest RAM below 4 GiB */

static const char console_text[] = "virtio-console: attack probe still transmits\r\n";

/* ---- reporting ---------------------------------------------------------- */

static void put_report(char c, void *context)
{
	struct report *r = context;
	if (r->length + 1 < sizeof(r->text))
		r->text[r->length++] = c;
	r->text[r->length] = '\0';
}

static void say(struct report *r, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void say(struct report *r, const char *format, ...)
{
	va_list arguments;
	if (r->length)
		put_report(',', r), put_report(' ', r);
	va_start(arguments, format);
	format_v(put_report, r, format, arguments);
	va_end(arguments);
}

static const char *outcome_name(struct outcome o)
{
	switch (o.kind) {
	case OUTCOME_USED: return "used";
	case OUTCOME_NEEDS_RESET: return "needs-reset";
	default: return "timeout";
	}
}

/* "label needs-reset" or "label used N", with the block status byte when there is one. */
static void say_outcome(struct report *r, struct target *t, const char *label, struct outcome o)
{
	if (o.kind != OUTCOME_USED)
		say(r, "%s %s", label, outcome_name(o));
	else if (t->type == VIRTIO_TYPE_BLOCK)
		say(r, "%s used %u status %u", label, o.length, t->scratch[16]);
	else
		say(r, "%s used %u", label, o.length);
}

/* ---- registers ---------------------------------------------------------- */

static uint8_t status_of(struct target *t)
{
	return mmio_read8(t->d.common + COMMON_DEVICE_STATUS);
}

static void set_status(struct target *t, uint8_t status)
{
	mmio_write8(t->d.common + COMMON_DEVICE_STATUS, status);
}

static bool needs_reset(uint8_t status)
{
	return (status & STATUS_DEVICE_NEEDS_RESET) != 0;
}

/* Writes 0 and waits for device_status to read 0 (§4.1.4.3.2). */
static bool reset(struct target *t)
{
	uint32_t polls;

	set_status(t, 0);
	for (polls = 0; status_of(t) != 0; polls++) {
		if (polls == VIRTIO_ANSWER_WAIT_MS)
			return false;
		pit_delay_ms(1);
	}
	return true;
}

/* Reset, ACKNOWLEDGE, DRIVER, the feature words given (whatever the device
 * offers), then `extra_value` in feature word `extra_select` unless that is 0,
 * FEATURES_OK, and the status read back. */
static uint8_t negotiate_words(struct target *t, uint32_t low, uint32_t high, uint32_t extra_select, uint32_t extra_value)
{
	uint32_t c = t->d.common;

	if (!reset(t))
		return status_of(t);
	set_status(t, STATUS_ACKNOWLEDGE);
	set_status(t, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
	mmio_write32(c + COMMON_DEVICE_FEATURE_SELECT, 0);
	t->d.offered = mmio_read32(c + COMMON_DEVICE_FEATURE);
	mmio_write32(c + COMMON_DEVICE_FEATURE_SELECT, 1);
	t->d.offered |= (uint64_t)mmio_read32(c + COMMON_DEVICE_FEATURE) << 32;
	mmio_write32(c + COMMON_DRIVER_FEATURE_SELECT, 0);
	mmio_write32(c + COMMON_DRIVER_FEATURE, low);
	mmio_write32(c + COMMON_DRIVER_FEATURE_SELECT, 1);
	mmio_write32(c + COMMON_DRIVER_FEATURE, high);
	if (extra_select) {
		mmio_write32(c + COMMON_DRIVER_FEATURE_SELECT, extra_select);
		mmio_write32(c + COMMON_DRIVER_FEATURE, extra_value);
	}
	set_status(t, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
	return status_of(t);
}

/* VIRTIO_F_VERSION_1 and those of the low feature bits in `wanted` the device offers. */
static bool negotiate(struct target *t, uint32_t wanted)
{
	/* A first pass learns the offer; the words written then are all the device offers anyway. */
	uint8_t status = negotiate_words(t, 0, VIRTIO_F_VERSION_1_HIGH, 0, 0);
	if (wanted & (uint32_t)t->d.offered)
		status = negotiate_words(t, wanted & (uint32_t)t->d.offered, VIRTIO_F_VERSION_1_HIGH, 0, 0);
	return (status & STATUS_FEATURES_OK) && !needs_reset(status);
}

static void select_queue(struct target *t, uint16_t index)
{
	mmio_write16(t->d.common + COMMON_QUEUE_SELECT, index);
}

/* Places queue `index` with the parts at the addresses given (any of them
 * hostile) and enables it; returns the status afterwards. */
static uint8_t place_queue(struct target *t, uint16_t index, uint16_t size, uint32_t descriptors, uint32_t driver,
			   uint32_t device)
{
	uint32_t c = t->d.common;
	struct virtq *q = &t->q[index];

	select_queue(t, index);
	mmio_write16(c + COMMON_QUEUE_SIZE, size);
	mmio_write32(c + COMMON_QUEUE_DESC, descriptors);
	mmio_write32(c + COMMON_QUEUE_DESC + 4, 0);
	mmio_write32(c + COMMON_QUEUE_DRIVER, driver);
	mmio_write32(c + COMMON_QUEUE_DRIVER + 4, 0);
	mmio_write32(c + COMMON_QUEUE_DEVICE, device);
	mmio_write32(c + COMMON_QUEUE_DEVICE + 4, 0);
	q->index = index;
	q->size = size;
	q->avail_index = 0;
	q->last_used = 0;
	q->memory = (volatile uint8_t *)descriptors;
	q->notify_address = t->d.notify + (uint32_t)mmio_read16(c + COMMON_QUEUE_NOTIFY_OFF) * t->d.notify_multiplier;
	mmio_write16(c + COMMON_QUEUE_ENABLE, 1);
	return status_of(t);
}

/* Zeroes what a queue of `size` uses of its page (not the whole page: a
 * byte-wise memset of 4 KiB costs ~16,000 emulated instructions). */
static void clear_ring(uint8_t *page, uint16_t size)
{
	volatile uint32_t *words = (volatile uint32_t *)page;
	uint32_t i;

	for (i = 0; i < (16u * size + 3) / 4; i++)
		words[RING_DESCRIPTORS / 4 + i] = 0;
	for (i = 0; i < (6u + 2u * size + 3) / 4; i++)
		words[RING_AVAILABLE / 4 + i] = 0;
	for (i = 0; i < (6u + 8u * size + 3) / 4; i++)
		words[RING_USED / 4 + i] = 0;
}

/* Sets the queues up in the target's pages after negotiation, without DRIVER_OK. */
static bool place_queues(struct target *t, uint16_t size)
{
	uint16_t i;

	for (i = 0; i < t->queues; i++) {
		uint32_t page = (uint32_t)t->rings[i];
		uint16_t max;

		select_queue(t, i);
		max = mmio_read16(t->d.common + COMMON_QUEUE_SIZE);
		clear_ring(t->rings[i], size);
		if (max < size || needs_reset(place_queue(t, i, size, page + RING_DESCRIPTORS, page + RING_AVAILABLE, page + RING_USED)))
			return false;
	}
	return true;
}

static bool driver_ok(struct target *t)
{
	uint8_t status;

	set_status(t, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
	status = status_of(t);
	return (status & STATUS_DRIVER_OK) && !(status & (STATUS_DEVICE_NEEDS_RESET | STATUS_FAILED));
}

/* The whole bring-up with queues of `size`, accepting the low features in `wanted` the device offers. */
static bool bring_up(struct target *t, uint32_t wanted, uint16_t size)
{
	return negotiate(t, wanted) && place_queues(t, size) && driver_ok(t);
}

/* ---- rings -------------------------------------------------------------- */

static struct virtq *pop_queue(struct target *t)
{
	return &t->q[t->pop];
}

static volatile struct virtq_desc *table_of(struct virtq *q)
{
	return (volatile struct virtq_desc *)(q->memory + RING_DESCRIPTORS);
}

static void put_desc(volatile struct virtq_desc *table, uint16_t i, uint64_t address, uint32_t length, uint16_t flags,
		     uint16_t next)
{
	table[i].address = address;
	table[i].length = length;
	table[i].flags = flags;
	table[i].next = next;
}

static void set_desc(struct virtq *q, uint16_t i, uint64_t address, uint32_t length, uint16_t flags, uint16_t next)
{
	put_desc(table_of(q), i, address, length, flags, next);
}

/* Puts `head` in the next available slot and publishes it (§2.7.13), without notifying. */
static void publish(struct virtq *q, uint16_t head)
{
	volatile uint16_t *avail = (volatile uint16_t *)(q->memory + RING_AVAILABLE);

	avail[2 + q->avail_index % q->size] = head;
	compiler_barrier();
	q->avail_index++;
	avail[1] = q->avail_index;
	compiler_barrier();
}

static void notify(struct virtq *q)
{
	mmio_write16(q->notify_address, q->index);
}

/* Waits for the next used element, or DEVICE_NEEDS_RESET, or the timeout. */
static struct outcome wait_outcome(struct target *t, struct virtq *q, uint32_t timeout_ms)
{
	volatile uint16_t *used = (volatile uint16_t *)(q->memory + RING_USED);
	volatile uint32_t *elements = (volatile uint32_t *)(q->memory + RING_USED + 4);
	struct outcome o = { OUTCOME_TIMEOUT, 0, 0 };
	uint32_t waited;

	for (waited = 0;; waited++) {
		if (used[1] != q->last_used) {
			compiler_barrier();
			o.kind = OUTCOME_USED;
			o.length = elements[2 * (q->last_used % q->size) + 1];
			q->last_used++;
			(void)mmio_read8(t->d.isr); /* lowers INTx */
			break;
		}
		if (needs_reset(status_of(t))) {
			/* A device may use the chain and then find the error (the ring's flags, read after the
			 * push): both can happen between the look at the used index and the status read, which
			 * is an exit to the launcher, long where the launcher runs slowly. The used index decides. */
			if (used[1] != q->last_used)
				continue;
			o.kind = OUTCOME_NEEDS_RESET;
			break;
		}
		if (waited >= timeout_ms)
			break;
		pit_delay_ms(1);
	}
	o.status = status_of(t);
	return o;
}

/* Makes the chain at `head` of the target's queue available, notifies, and waits. */
static struct outcome run_chain(struct target *t, uint16_t head)
{
	struct virtq *q = pop_queue(t);

	t->scratch[16] = 0xff; /* the block status byte, so a stale one is never read as an answer */
	publish(q, head);
	notify(q);
	return wait_outcome(t, q, REQUEST_WAIT_MS);
}

static uint8_t wait_needs_reset(struct target *t)
{
	return virtio_wait_status(&t->d, STATUS_DEVICE_NEEDS_RESET, NEEDS_RESET_WAIT_MS);
}

/* ---- requests ----------------------------------------------------------- */

static void blk_header_at(uint8_t *where, uint32_t type, uint64_t sector)
{
	volatile struct blk_header *h = (volatile struct blk_header *)where;
	h->type = type;
	h->reserved = 0;
	h->sector = sector;
}

/* The payload a transmit queue sends: the console's text, or a network header and frame. */
static uint32_t payload(struct target *t, uint8_t *where)
{
	if (t->type == VIRTIO_TYPE_NET) {
		/* A zero header (no offloads), then a broadcast frame from a locally
		 * administered address with the local experimental EtherType 0x88b5. */
		static const uint8_t ethernet[14] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
						      0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0xb5 };
		memset(where, 0, VIRTIO_NET_HDR_SIZE + NET_FRAME_SIZE);
		memcpy(where + VIRTIO_NET_HDR_SIZE, ethernet, sizeof(ethernet));
		memcpy(where + VIRTIO_NET_HDR_SIZE + sizeof(ethernet), "lguest attack probe", 19);
		return VIRTIO_NET_HDR_SIZE + NET_FRAME_SIZE;
	}
	memcpy(where, console_text, sizeof(console_text) - 1);
	return sizeof(console_text) - 1;
}

/* A legal request of `count` descriptors (3 or more for the block device: a
 * read of sector 0 into count - 2 sectors) at entries 0..count-1 of `table`. */
static void legal_chain(struct target *t, volatile struct virtq_desc *table, uint16_t count)
{
	uint8_t *s = t->scratch;
	uint32_t length = 0, piece = 0, done = 0;
	uint16_t i;

	if (t->type == VIRTIO_TYPE_BLOCK)
		blk_header_at(s, VIRTIO_BLK_T_IN, 0);
	else if (t->readable) {
		length = payload(t, s + 512);
		piece = length / count;
	}
	for (i = 0; i < count; i++) {
		uint16_t next = (uint16_t)(i + 1 < count ? VIRTQ_DESC_F_NEXT : 0);
		if (t->type == VIRTIO_TYPE_BLOCK) {
			if (i == 0)
				put_desc(table, i, (uint32_t)s, sizeof(struct blk_header), next, (uint16_t)(i + 1));
			else if (i + 1 == count)
				put_desc(table, i, (uint32_t)s + 16, 1, VIRTQ_DESC_F_WRITE, 0);
			else
				put_desc(table, i, (uint32_t)s + SECTOR_SIZE * i, SECTOR_SIZE, VIRTQ_DESC_F_WRITE | next, (uint16_t)(i + 1));
		} else if (t->readable) {
			uint32_t n = i + 1 == count ? length - done : piece;
			put_desc(table, i, (uint32_t)s + 512 + done, n, next, (uint16_t)(i + 1));
			done += n;
		} else {
			put_desc(table, i, (uint32_t)s + 8 * i, 8, VIRTQ_DESC_F_WRITE | next, (uint16_t)(i + 1));
		}
	}
}

/* Whether the outcome is what the legal chain of `count` descriptors must get. */
static bool legal_answer(struct target *t, struct outcome o, uint16_t count)
{
	if (o.kind != OUTCOME_USED)
		return false;
	if (t->type == VIRTIO_TYPE_BLOCK)
		return t->scratch[16] == VIRTIO_BLK_S_OK && o.length == SECTOR_SIZE * (uint32_t)(count - 2) + 1;
	if (t->readable)
		return o.length == 0;
	return o.length == 8u * count;
}

/* The device's simplest legal request on its current queues. */
static bool legal_request(struct target *t, struct report *r, const char *label)
{
	uint16_t count = t->type == VIRTIO_TYPE_BLOCK ? 3 : 1;
	struct outcome o;

	legal_chain(t, table_of(pop_queue(t)), count);
	o = run_chain(t, 0);
	if (r)
		say_outcome(r, t, label, o);
	return legal_answer(t, o, count);
}

/* The block device's first descriptor for ring attacks: a read of sector 0,
 * chained to descriptor 1. Returns where the attack's own descriptors start. */
static uint16_t lead_in(struct target *t)
{
	if (t->type != VIRTIO_TYPE_BLOCK)
		return 0;
	blk_header_at(t->scratch, VIRTIO_BLK_T_IN, 0);
	set_desc(pop_queue(t), 0, (uint32_t)t->scratch, sizeof(struct blk_header), VIRTQ_DESC_F_NEXT, 1);
	return 1;
}

static uint16_t data_flags(struct target *t)
{
	return t->readable ? 0 : VIRTQ_DESC_F_WRITE;
}

/* One buffer of the device's kind (a block read's data, an entropy request,
 * a transmit) at a given place, as one request. */
static struct outcome buffer_request(struct target *t, uint64_t address, uint32_t length)
{
	struct virtq *q = pop_queue(t);
	uint16_t i = lead_in(t);

	if (t->type == VIRTIO_TYPE_BLOCK) {
		set_desc(q, i, address, length, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
		set_desc(q, (uint16_t)(i + 1), (uint32_t)t->scratch + 16, 1, VIRTQ_DESC_F_WRITE, 0);
	} else {
		set_desc(q, i, address, length, data_flags(t), 0);
	}
	return run_chain(t, 0);
}

/* A block request: header, optional data, status. */
static struct outcome blk_request(struct target *t, uint32_t type, uint64_t sector, uint32_t data_length, bool device_writes)
{
	struct virtq *q = pop_queue(t);
	uint32_t s = (uint32_t)t->scratch;

	blk_header_at(t->scratch, type, sector);
	set_desc(q, 0, s, sizeof(struct blk_header), VIRTQ_DESC_F_NEXT, 1);
	if (data_length) {
		set_desc(q, 1, s + SECTOR_SIZE, data_length, (uint16_t)((device_writes ? VIRTQ_DESC_F_WRITE : 0) | VIRTQ_DESC_F_NEXT), 2);
		set_desc(q, 2, s + 16, 1, VIRTQ_DESC_F_WRITE, 0);
	} else {
		set_desc(q, 1, s + 16, 1, VIRTQ_DESC_F_WRITE, 0);
	}
	return run_chain(t, 0);
}

/* Brings the target up again and uses it properly. */
static bool recover(struct target *t, struct report *r)
{
	if (!bring_up(t, 0, QUEUE_SIZE)) {
		say(r, "bring-up failed (status 0x%02x)", status_of(t));
		return false;
	}
	return legal_request(t, r, "request");
}

/* ---- the attacks -------------------------------------------------------- */

/* Queue sizes that are not powers of two, 0, or above the maximum: refused
 * when written. A smaller power of two is legal and works. */
static bool attack_queue_size(struct target *t, struct report *r)
{
	uint16_t max, sizes[4];
	bool ok = true;
	uint32_t i;

	if (!negotiate(t, 0))
		return false;
	select_queue(t, t->pop);
	max = mmio_read16(t->d.common + COMMON_QUEUE_SIZE);
	sizes[0] = 3;
	sizes[1] = 0;
	sizes[2] = max <= 0x4000 ? (uint16_t)(max * 2) : 0xffff;
	sizes[3] = (uint16_t)(max - 1);
	for (i = 0; i < 4; i++) {
		uint8_t status;
		if (!negotiate(t, 0))
			return false;
		select_queue(t, t->pop);
		mmio_write16(t->d.common + COMMON_QUEUE_SIZE, sizes[i]);
		status = status_of(t);
		say(r, "size %u %s", sizes[i], needs_reset(status) ? "needs-reset" : "accepted");
		ok &= needs_reset(status) || (sizes[i] == max - 1 && max == 2); /* 1 is a power of two */
	}
	if (!bring_up(t, 0, 4)) {
		say(r, "size 4 refused");
		return false;
	}
	return legal_request(t, r, "size 4") && ok;
}

/* Feature bits never offered, bits past 63, and a driver without
 * VIRTIO_F_VERSION_1: FEATURES_OK must stay clear (§2.2.1), and setting a
 * queue up after that refusal breaks the rules. */
static bool attack_features(struct target *t, struct report *r)
{
	uint32_t bit = 0;
	uint8_t s;
	bool ok = true;

	(void)negotiate_words(t, 0, VIRTIO_F_VERSION_1_HIGH, 0, 0); /* learns the offer */
	while (bit < 24 && ((uint32_t)t->d.offered >> bit) & 1)
		bit++;
	s = negotiate_words(t, 1u << bit, VIRTIO_F_VERSION_1_HIGH, 0, 0);
	say(r, "bit %u %s", bit, s & STATUS_FEATURES_OK ? "accepted" : "refused");
	ok &= !(s & STATUS_FEATURES_OK);
	s = negotiate_words(t, 0, VIRTIO_F_VERSION_1_HIGH | 0x80000000u, 0, 0);
	say(r, "bit 63 %s", s & STATUS_FEATURES_OK ? "accepted" : "refused");
	ok &= !(s & STATUS_FEATURES_OK);
	if (!((t->d.offered >> 34) & 1)) { /* VIRTIO_F_RING_PACKED */
		s = negotiate_words(t, 0, VIRTIO_F_VERSION_1_HIGH | 4, 0, 0);
		say(r, "bit 34 %s", s & STATUS_FEATURES_OK ? "accepted" : "refused");
		ok &= !(s & STATUS_FEATURES_OK);
	}
	s = negotiate_words(t, 0, VIRTIO_F_VERSION_1_HIGH, 2, 1);
	say(r, "bit 64 %s", s & STATUS_FEATURES_OK ? "accepted" : "refused");
	ok &= !(s & STATUS_FEATURES_OK);
	s = negotiate_words(t, 0, 0, 0, 0);
	say(r, "no VERSION_1 %s", s & STATUS_FEATURES_OK ? "accepted" : "refused");
	ok &= !(s & STATUS_FEATURES_OK);
	/* The driver goes on regardless. */
	select_queue(t, t->pop);
	mmio_write16(t->d.common + COMMON_QUEUE_SIZE, QUEUE_SIZE);
	s = status_of(t);
	say(r, "queue set-up after the refusal %s", needs_reset(s) ? "needs-reset" : "accepted");
	return ok && needs_reset(s);
}

static void access(uint32_t address, uint32_t width, bool write)
{
	if (write) {
		if (width == 1)
			mmio_write8(address, 0xff);
		else if (width == 2)
			mmio_write16(address, 0xffff);
		else
			mmio_write32(address, 0xffffffffu);
	} else {
		if (width == 1)
			(void)mmio_read8(address);
		else if (width == 2)
			(void)mmio_read16(address);
		else
			(void)mmio_read32(address);
	}
}

/* Every width (1, 2, 4: a 32-bit guest without SSE has no 8-byte MMIO
 * access) at every byte offset of the common configuration and a little
 * past it, all ones, each on a freshly negotiated device with the attacked
 * queue selected. Counts the accesses that put the device in DEVICE_NEEDS_RESET. */
static bool sweep_common(struct target *t, struct report *r, bool write)
{
	static const uint32_t widths[] = { 1, 2, 4 };
	uint32_t offset, w, count = 0, broke = 0;

	for (offset = 0; offset < COMMON_SIZE + 4; offset++) {
		for (w = 0; w < 3; w++) {
			if (!negotiate(t, 0)) {
				say(r, "negotiation failed before offset 0x%x", offset);
				return false;
			}
			select_queue(t, t->pop);
			access(t->d.common + offset, widths[w], write);
			count++;
			if (needs_reset(status_of(t)))
				broke++;
		}
	}
	say(r, "%u %s: %u needs-reset, %u accepted", count, write ? "writes" : "reads", broke, count - broke);
	/* At least the device_status bits, the read-only fields and the space past the end break the rules. */
	return broke > 0 && broke < count;
}

static bool attack_common_writes(struct target *t, struct report *r)
{
	return sweep_common(t, r, true);
}

static bool attack_common_reads(struct target *t, struct report *r)
{
	return sweep_common(t, r, false);
}

/* Finds the virtio capability of cfg_type `type` in configuration space; 0 if none. */
static uint8_t find_capability(struct target *t, uint8_t type)
{
	uint8_t at = pci_read8(t->d.address, PCI_CAPABILITIES) & 0xfc;
	uint32_t hops;

	for (hops = 0; at >= 0x40 && hops < 48; hops++) {
		if (pci_read8(t->d.address, at) == PCI_CAP_ID_VENDOR && pci_read8(t->d.address, (uint8_t)(at + 3)) == type)
			return at;
		at = pci_read8(t->d.address, (uint8_t)(at + 1)) & 0xfc;
	}
	return 0;
}

/* One access on a live device, then the status: each of these breaks a rule. */
static bool live_access(struct target *t, struct report *r, const char *label, uint32_t address, uint32_t width, bool write)
{
	uint8_t s;

	if (!bring_up(t, 0, QUEUE_SIZE)) {
		say(r, "%s: bring-up failed", label);
		return false;
	}
	access(address, width, write);
	s = status_of(t);
	say(r, "%s %s", label, needs_reset(s) ? "needs-reset" : "accepted");
	return needs_reset(s);
}

/* The notification area, the ISR, the device configuration and the
 * capabilities in configuration space, misused one at a time. */
static bool attack_other_registers(struct target *t, struct report *r)
{
	uint32_t slot;
	uint8_t window, common, s;
	bool ok = true;

	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	slot = pop_queue(t)->notify_address;
	ok &= live_access(t, r, "notify 1-byte", slot, 1, true);
	ok &= live_access(t, r, "notify 4-byte", slot, 4, true);
	ok &= live_access(t, r, "notify mid-slot", slot + 2, 2, true);
	ok &= live_access(t, r, "notify read", slot, 2, false);
	ok &= live_access(t, r, "notify past the queues",
			  t->d.notify + (uint32_t)mmio_read16(t->d.common + COMMON_NUM_QUEUES) * t->d.notify_multiplier, 2, true);
	ok &= live_access(t, r, "isr write", t->d.isr, 1, true);
	ok &= live_access(t, r, "isr 4-byte read", t->d.isr, 4, false);
	if (t->d.device)
		ok &= live_access(t, r, "config read past end", t->d.device + t->d.device_length, 4, false);

	common = find_capability(t, 1);
	window = find_capability(t, 5);
	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	pci_write32(t->d.address, (uint8_t)(common + 8), 0x1000); /* the common capability's offset */
	s = status_of(t);
	say(r, "capability write %s", needs_reset(s) ? "needs-reset" : "accepted");
	ok &= needs_reset(s);
	if (window) {
		if (!bring_up(t, 0, QUEUE_SIZE))
			return false;
		/* VIRTIO_PCI_CAP_PCI_CFG with an offset that is not a multiple of the length (§4.1.4.9). */
		pci_write32(t->d.address, (uint8_t)(window + 8), 1);
		pci_write32(t->d.address, (uint8_t)(window + 12), 4);
		(void)pci_read32(t->d.address, (uint8_t)(window + 16));
		s = status_of(t);
		say(r, "window misaligned %s", needs_reset(s) ? "needs-reset" : "accepted");
		ok &= needs_reset(s);
	}
	return ok;
}

/* The device (used) ring over the descriptor table, then over the available ring. */
static bool attack_used_over_desc(struct target *t, struct report *r)
{
	uint32_t page = (uint32_t)t->rings[t->pop];
	uint8_t s1, s2;

	if (!negotiate(t, 0))
		return false;
	clear_ring(t->rings[t->pop], QUEUE_SIZE);
	s1 = place_queue(t, t->pop, QUEUE_SIZE, page + RING_DESCRIPTORS, page + RING_AVAILABLE, page + RING_DESCRIPTORS);
	say(r, "used over descriptors %s", needs_reset(s1) ? "needs-reset" : "accepted");
	if (!negotiate(t, 0))
		return false;
	s2 = place_queue(t, t->pop, QUEUE_SIZE, page + RING_DESCRIPTORS, page + RING_AVAILABLE, page + RING_AVAILABLE);
	say(r, "used over available %s", needs_reset(s2) ? "needs-reset" : "accepted");
	return needs_reset(s1) && needs_reset(s2);
}

/* Live queues changed under the device: their address, their size, enabled again, and a status bit cleared. */
static bool attack_live_change(struct target *t, struct report *r)
{
	uint32_t c = t->d.common;
	bool ok = true;
	uint8_t s;

	ok &= bring_up(t, 0, QUEUE_SIZE);
	select_queue(t, t->pop);
	mmio_write32(c + COMMON_QUEUE_DESC, (uint32_t)t->rings[t->pop] + 0x800);
	s = status_of(t);
	say(r, "queue_desc %s", needs_reset(s) ? "needs-reset" : "accepted");
	ok &= needs_reset(s) && bring_up(t, 0, QUEUE_SIZE);
	select_queue(t, t->pop);
	mmio_write16(c + COMMON_QUEUE_SIZE, 4);
	s = status_of(t);
	say(r, "queue_size %s", needs_reset(s) ? "needs-reset" : "accepted");
	ok &= needs_reset(s) && bring_up(t, 0, QUEUE_SIZE);
	select_queue(t, t->pop);
	mmio_write16(c + COMMON_QUEUE_ENABLE, 1);
	s = status_of(t);
	say(r, "queue_enable %s", needs_reset(s) ? "needs-reset" : "accepted");
	ok &= needs_reset(s) && bring_up(t, 0, QUEUE_SIZE);
	set_status(t, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
	s = status_of(t);
	say(r, "FEATURES_OK cleared %s", needs_reset(s) ? "needs-reset" : "accepted");
	return ok && needs_reset(s);
}

/* A chain that comes back to itself, at once and through a second descriptor. */
static bool attack_desc_loop(struct target *t, struct report *r)
{
	uint32_t buffer = (uint32_t)t->scratch + 1024;
	struct outcome o;
	uint16_t i;
	bool ok;

	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	i = lead_in(t);
	set_desc(pop_queue(t), i, buffer, 16, data_flags(t) | VIRTQ_DESC_F_NEXT, i);
	o = run_chain(t, 0);
	say_outcome(r, t, "self", o);
	ok = o.kind == OUTCOME_NEEDS_RESET;
	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	i = lead_in(t);
	set_desc(pop_queue(t), i, buffer, 16, data_flags(t) | VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
	set_desc(pop_queue(t), (uint16_t)(i + 1), buffer + 16, 16, data_flags(t) | VIRTQ_DESC_F_NEXT, i);
	o = run_chain(t, 0);
	say_outcome(r, t, "pair", o);
	return ok && o.kind == OUTCOME_NEEDS_RESET;
}

/* A next index beyond the table. */
static bool attack_desc_next(struct target *t, struct report *r)
{
	struct outcome o;
	uint16_t i;

	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	i = lead_in(t);
	set_desc(pop_queue(t), i, (uint32_t)t->scratch + 1024, 16, data_flags(t) | VIRTQ_DESC_F_NEXT, 200);
	o = run_chain(t, 0);
	say_outcome(r, t, "next 200 of 8", o);
	return o.kind == OUTCOME_NEEDS_RESET;
}

/* A chain as long as the queue (legal), one through every descriptor and on
 * (nine hops in a table of eight), and an indirect table of twice the queue size. */
static bool attack_chain_long(struct target *t, struct report *r)
{
	volatile struct virtq_desc *table;
	struct outcome o;
	bool ok;
	uint16_t i;

	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	legal_chain(t, table_of(pop_queue(t)), QUEUE_SIZE);
	o = run_chain(t, 0);
	say_outcome(r, t, "8 of 8", o);
	ok = legal_answer(t, o, QUEUE_SIZE);

	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	table = table_of(pop_queue(t));
	legal_chain(t, table, QUEUE_SIZE);
	table[QUEUE_SIZE - 1].flags |= VIRTQ_DESC_F_NEXT;
	table[QUEUE_SIZE - 1].next = 0;
	o = run_chain(t, 0);
	say_outcome(r, t, "9 of 8", o);
	ok &= o.kind == OUTCOME_NEEDS_RESET;

	if (!bring_up(t, 1u << VIRTIO_F_INDIRECT_DESC, QUEUE_SIZE))
		return false;
	for (i = 0; i < 2 * QUEUE_SIZE; i++)
		put_desc(indirect_table, i, (uint32_t)t->scratch + 1024 + 8 * i, 8,
			 (uint16_t)(data_flags(t) | (i + 1 < 2 * QUEUE_SIZE ? VIRTQ_DESC_F_NEXT : 0)), (uint16_t)(i + 1));
	set_desc(pop_queue(t), 0, (uint32_t)indirect_table, 16 * 2 * QUEUE_SIZE, VIRTQ_DESC_F_INDIRECT, 0);
	o = run_chain(t, 0);
	say_outcome(r, t, "indirect 16 of 8", o);
	return ok && o.kind == OUTCOME_NEEDS_RESET;
}

/* The end of guest RAM: a buffer ending exactly there (legal), one running
 * across it, one starting there, one wrapping past 2^64, one where no RAM is. */
static bool attack_addr_edge(struct target *t, struct report *r)
{
	uint32_t length = t->type == VIRTIO_TYPE_BLOCK ? SECTOR_SIZE
		: t->type == VIRTIO_TYPE_NET ? VIRTIO_NET_HDR_SIZE + NET_FRAME_SIZE : 16;
	static const uint64_t wrap = 0xfffffffffffffff0ull;
	struct outcome o;
	bool ok;

	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	if (t->type == VIRTIO_TYPE_CONSOLE)
		memcpy((void *)(ram_end - length), "edge-of-ram ok\r\n", 16);
	else if (t->type == VIRTIO_TYPE_NET)
		(void)payload(t, (uint8_t *)(ram_end - length));
	o = buffer_request(t, ram_end - length, length);
	say_outcome(r, t, "last bytes", o);
	ok = o.kind == OUTCOME_USED && (t->type == VIRTIO_TYPE_BLOCK ? t->scratch[16] == VIRTIO_BLK_S_OK && o.length == length + 1
					: t->readable ? o.length == 0 : o.length == length);

	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	o = buffer_request(t, ram_end - 8, 16);
	say_outcome(r, t, "across the end", o);
	ok &= o.kind == OUTCOME_NEEDS_RESET;
	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	o = buffer_request(t, ram_end, 1);
	say_outcome(r, t, "at the end", o);
	ok &= o.kind == OUTCOME_NEEDS_RESET;
	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	o = buffer_request(t, wrap, 0x20);
	say_outcome(r, t, "wrapping 2^64", o);
	ok &= o.kind == OUTCOME_NEEDS_RESET;
	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	o = buffer_request(t, outside, 16);
	say_outcome(r, t, "no RAM", o);
	return ok && o.kind == OUTCOME_NEEDS_RESET;
}

/* Lengths that run past 4 GiB or wrap 32 bits, an indirect table of a huge
 * length, and for the block device sectors whose byte offset wraps 2^64. */
static bool attack_length_wrap(struct target *t, struct report *r)
{
	uint32_t start = (uint32_t)t->scratch + 1024;
	struct outcome o;
	bool ok;

	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	o = buffer_request(t, start, 0xffffffffu);
	say_outcome(r, t, "length 0xffffffff", o);
	ok = o.kind == OUTCOME_NEEDS_RESET;
	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	o = buffer_request(t, start, 0u - start); /* start + length = 2^32 */
	say_outcome(r, t, "end at 2^32", o);
	ok &= o.kind == OUTCOME_NEEDS_RESET;
	if (!bring_up(t, 1u << VIRTIO_F_INDIRECT_DESC, QUEUE_SIZE))
		return false;
	set_desc(pop_queue(t), 0, (uint32_t)indirect_table, 0xfffffff0u, VIRTQ_DESC_F_INDIRECT, 0);
	o = run_chain(t, 0);
	say_outcome(r, t, "indirect length 0xfffffff0", o);
	ok &= o.kind == OUTCOME_NEEDS_RESET;

	if (t->type == VIRTIO_TYPE_BLOCK) {
		static const struct { const char *label; uint32_t type; uint8_t expected; } cases[] = {
			{ "read last sector", VIRTIO_BLK_T_IN, VIRTIO_BLK_S_OK },
			{ "read at capacity", VIRTIO_BLK_T_IN, VIRTIO_BLK_S_IOERR },
			{ "read sector 2^55", VIRTIO_BLK_T_IN, VIRTIO_BLK_S_IOERR },
			{ "write sector 2^64-1", VIRTIO_BLK_T_OUT, VIRTIO_BLK_S_IOERR },
		};
		uint64_t capacity, sectors[4];
		uint32_t i;

		if (!bring_up(t, 0, QUEUE_SIZE))
			return false;
		capacity = virtio_config_read32(&t->d, 0) | (uint64_t)virtio_config_read32(&t->d, 4) << 32;
		sectors[0] = capacity - 1;
		sectors[1] = capacity;
		sectors[2] = 1ull << 55; /* times 512 is 2^64 */
		sectors[3] = ~0ull;
		for (i = 0; i < 4; i++) {
			o = blk_request(t, cases[i].type, sectors[i], SECTOR_SIZE, cases[i].type == VIRTIO_BLK_T_IN);
			say_outcome(r, t, cases[i].label, o);
			ok &= o.kind == OUTCOME_USED && t->scratch[16] == cases[i].expected;
		}
	}
	return ok;
}

/* Indirect tables: a legal one, one inside another, one without the feature,
 * with NEXT, of a length not a multiple of 16, empty, and outside RAM. */
static bool attack_indirect(struct target *t, struct report *r)
{
	static const struct { const char *label; uint16_t flags; uint32_t length; bool nested, negotiated, outside_ram; } cases[] = {
		{ "nested", VIRTQ_DESC_F_INDIRECT, 16, true, true, false },
		{ "not negotiated", VIRTQ_DESC_F_INDIRECT, 16, false, false, false },
		{ "with NEXT", VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 16, false, true, false },
		{ "length 20", VIRTQ_DESC_F_INDIRECT, 20, false, true, false },
		{ "length 0", VIRTQ_DESC_F_INDIRECT, 0, false, true, false },
		{ "outside RAM", VIRTQ_DESC_F_INDIRECT, 16, false, true, true },
	};
	uint16_t count = t->type == VIRTIO_TYPE_BLOCK ? 3 : 2;
	struct outcome o;
	bool ok;
	uint32_t i;

	if (!bring_up(t, 1u << VIRTIO_F_INDIRECT_DESC, QUEUE_SIZE))
		return false;
	legal_chain(t, indirect_table, count);
	set_desc(pop_queue(t), 0, (uint32_t)indirect_table, 16u * count, VIRTQ_DESC_F_INDIRECT, 0);
	o = run_chain(t, 0);
	say_outcome(r, t, "legal", o);
	ok = legal_answer(t, o, count);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!bring_up(t, cases[i].negotiated ? 1u << VIRTIO_F_INDIRECT_DESC : 0, QUEUE_SIZE))
			return false;
		legal_chain(t, indirect_table, count);
		if (cases[i].nested)
			put_desc(indirect_table, 0, (uint32_t)indirect_table, 16u * count, VIRTQ_DESC_F_INDIRECT, 0);
		set_desc(pop_queue(t), 0, cases[i].outside_ram ? outside : (uint32_t)indirect_table, cases[i].length,
			 cases[i].flags, 1);
		o = run_chain(t, 0);
		say_outcome(r, t, cases[i].label, o);
		ok &= o.kind == OUTCOME_NEEDS_RESET;
	}
	return ok;
}

/* The available ring: its index moved by more than the queue, a head beyond
 * the queue, and flags other than 0 or 1 (without VIRTIO_F_EVENT_IDX). */
static bool attack_ring_index(struct target *t, struct report *r)
{
	volatile uint16_t *avail;
	struct outcome o;
	bool ok;
	uint8_t s;

	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	avail = (volatile uint16_t *)(pop_queue(t)->memory + RING_AVAILABLE);
	avail[1] = QUEUE_SIZE + 1;
	notify(pop_queue(t));
	s = wait_needs_reset(t);
	say(r, "index +9 %s", needs_reset(s) ? "needs-reset" : "accepted");
	ok = needs_reset(s);

	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	legal_chain(t, table_of(pop_queue(t)), t->type == VIRTIO_TYPE_BLOCK ? 3 : 1);
	o = run_chain(t, 200);
	say_outcome(r, t, "head 200", o);
	ok &= o.kind == OUTCOME_NEEDS_RESET;

	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	avail = (volatile uint16_t *)(pop_queue(t)->memory + RING_AVAILABLE);
	avail[0] = 2;
	legal_chain(t, table_of(pop_queue(t)), t->type == VIRTIO_TYPE_BLOCK ? 3 : 1);
	o = run_chain(t, 0);
	/* The device serves the request, then reads the flags to decide on an interrupt. */
	s = o.kind == OUTCOME_NEEDS_RESET ? o.status : wait_needs_reset(t);
	say(r, "flags 2 %s then %s", outcome_name(o), needs_reset(s) ? "needs-reset" : "accepted");
	return ok && needs_reset(s);
}

/* Rings changed while the device works on them: a legal request is made
 * available and notified, then its buffer's address is moved outside RAM
 * after a delay that grows each round, so the device meets the chain before,
 * during or after the change. Ends in DEVICE_NEEDS_RESET (forced by moving
 * the available index too far if the device always won). */
static bool attack_scribble(struct target *t, struct report *r)
{
	uint32_t round, served = 0, spin;
	uint16_t count = t->type == VIRTIO_TYPE_BLOCK ? 3 : 1, victim = t->type == VIRTIO_TYPE_BLOCK ? 1 : 0;
	volatile struct virtq_desc *table;
	struct virtq *q;
	struct outcome o = { OUTCOME_TIMEOUT, 0, 0 };

	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	q = pop_queue(t);
	table = table_of(q);
	for (round = 0; round < 32; round++) {
		legal_chain(t, table, count);
		t->scratch[16] = 0xff;
		publish(q, 0);
		notify(q);
		for (spin = 0; spin < round * 16; spin++)
			cpu_pause();
		table[victim].address = outside;
		table[victim].next = victim;
		table[victim].flags |= VIRTQ_DESC_F_NEXT;
		o = wait_outcome(t, q, REQUEST_WAIT_MS);
		if (o.kind != OUTCOME_USED)
			break;
		served++;
	}
	if (o.kind == OUTCOME_USED) {
		volatile uint16_t *avail = (volatile uint16_t *)(q->memory + RING_AVAILABLE);
		avail[1] = (uint16_t)(q->avail_index + QUEUE_SIZE + 1);
		notify(q);
		o.status = wait_needs_reset(t);
		o.kind = needs_reset(o.status) ? OUTCOME_NEEDS_RESET : OUTCOME_TIMEOUT;
		say(r, "%u rounds served, then index +9 %s", served, outcome_name(o));
	} else {
		say(r, "%u rounds served, then %s", served, outcome_name(o));
	}
	return o.kind == OUTCOME_NEEDS_RESET;
}

/* Thousands of notifications: 20,000 with nothing new available, then 200
 * requests each notified and awaited. Legal, so nothing may break. */
static bool attack_notify_storm(struct target *t, struct report *r)
{
	struct pit_stopwatch watch;
	struct virtq *q;
	uint32_t i, empty_ms, served = 0;
	uint8_t s;

	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	q = pop_queue(t);
	pit_stopwatch_start(&watch);
	for (i = 0; i < 20000; i++) {
		notify(q);
		if ((i & 7) == 0)
			(void)pit_stopwatch_poll(&watch);
	}
	empty_ms = pit_stopwatch_ms(&watch);
	pit_stopwatch_start(&watch);
	for (i = 0; i < 200; i++) {
		/* Transmit queues get empty buffers: 200 lines on the host's console would say nothing more. */
		struct outcome o = t->readable ? buffer_request(t, (uint32_t)t->scratch, 0) : (struct outcome){ OUTCOME_TIMEOUT, 0, 0 };
		if (t->readable ? o.kind != OUTCOME_USED : !legal_request(t, 0, ""))
			break;
		served++;
		(void)pit_stopwatch_poll(&watch);
	}
	s = status_of(t);
	say(r, "20000 empty notifies in %u ms, then %u/200 requests in %u ms, status 0x%02x", empty_ms, served,
	    pit_stopwatch_ms(&watch), s);
	return served == 200 && !needs_reset(s);
}

/* The device's own request rules. */
static bool attack_requests(struct target *t, struct report *r)
{
	struct outcome o;
	bool ok = true;

	if (t->type == VIRTIO_TYPE_BLOCK) {
		struct virtq *q;
		if (!bring_up(t, 0, QUEUE_SIZE))
			return false;
		q = pop_queue(t);
		/* No status byte at all: nothing to answer in, returned unanswered. */
		blk_header_at(t->scratch, VIRTIO_BLK_T_IN, 0);
		set_desc(q, 0, (uint32_t)t->scratch, sizeof(struct blk_header), 0, 0);
		o = run_chain(t, 0);
		say(r, "no status %s %u", outcome_name(o), o.length);
		ok &= o.kind == OUTCOME_USED && o.length == 0 && !needs_reset(o.status);
		/* A header of 8 bytes. */
		set_desc(q, 0, (uint32_t)t->scratch, 8, VIRTQ_DESC_F_NEXT, 1);
		set_desc(q, 1, (uint32_t)t->scratch + 16, 1, VIRTQ_DESC_F_WRITE, 0);
		o = run_chain(t, 0);
		say_outcome(r, t, "8-byte header", o);
		ok &= o.kind == OUTCOME_USED && t->scratch[16] == VIRTIO_BLK_S_IOERR;
		o = blk_request(t, VIRTIO_BLK_T_IN, 0, 100, true);
		say_outcome(r, t, "100-byte read", o);
		ok &= o.kind == OUTCOME_USED && t->scratch[16] == VIRTIO_BLK_S_IOERR;
		o = blk_request(t, 99, 0, 0, false);
		say_outcome(r, t, "type 99", o);
		ok &= o.kind == OUTCOME_USED && t->scratch[16] == VIRTIO_BLK_S_UNSUPP;
		o = blk_request(t, VIRTIO_BLK_T_GET_ID, 0, 4, true);
		say_outcome(r, t, "4-byte GET_ID", o);
		ok &= o.kind == OUTCOME_USED && t->scratch[16] == VIRTIO_BLK_S_OK;
		return ok && !needs_reset(status_of(t));
	}
	if (t->type == VIRTIO_TYPE_RNG) {
		if (!bring_up(t, 0, QUEUE_SIZE))
			return false;
		o = buffer_request(t, (uint32_t)t->scratch, 0);
		say_outcome(r, t, "0 bytes", o);
		ok &= o.kind == OUTCOME_USED && o.length == 0;
		/* 1 MiB asked for in one buffer: at most the device's per-request limit comes back. */
		o = buffer_request(t, ram_end - (2u << 20), 1u << 20);
		say_outcome(r, t, "1 MiB", o);
		ok &= o.kind == OUTCOME_USED && o.length > 0 && o.length <= (1u << 20);
		set_desc(pop_queue(t), 0, (uint32_t)t->scratch, 16, 0, 0);
		o = run_chain(t, 0);
		say_outcome(r, t, "device-readable", o);
		return ok && o.kind == OUTCOME_NEEDS_RESET;
	}
	/* The console's and the network card's transmit queues. */
	if (!bring_up(t, 0, QUEUE_SIZE))
		return false;
	o = buffer_request(t, (uint32_t)t->scratch, 0);
	say_outcome(r, t, "0 bytes", o);
	ok &= o.kind == OUTCOME_USED && o.length == 0;
	if (t->type == VIRTIO_TYPE_NET) {
		/* Frames the card drops and returns (counted on the host), the device carrying on. */
		o = buffer_request(t, (uint32_t)t->scratch, 6);
		say_outcome(r, t, "6-byte frame", o);
		ok &= o.kind == OUTCOME_USED && o.length == 0;
		set_desc(pop_queue(t), 0, (uint32_t)t->scratch, 16, VIRTQ_DESC_F_WRITE, 0);
		o = run_chain(t, 0);
		say_outcome(r, t, "device-writable", o);
		return ok && o.kind == OUTCOME_USED && !needs_reset(o.status);
	}
	set_desc(pop_queue(t), 0, (uint32_t)t->scratch, 16, VIRTQ_DESC_F_WRITE, 0);
	o = run_chain(t, 0);
	say_outcome(r, t, "device-writable", o);
	return ok && o.kind == OUTCOME_NEEDS_RESET;
}

struct attack {
	const char *name;
	bool (*run)(struct target *t, struct report *r);
};

static const struct attack attacks[] = {
	{ "queue-size", attack_queue_size },
	{ "features", attack_features },
	{ "common-writes", attack_common_writes },
	{ "common-reads", attack_common_reads },
	{ "other-registers", attack_other_registers },
	{ "used-over-desc", attack_used_over_desc },
	{ "live-change", attack_live_change },
	{ "desc-loop", attack_desc_loop },
	{ "desc-next", attack_desc_next },
	{ "chain-long", attack_chain_long },
	{ "addr-edge", attack_addr_edge },
	{ "length-wrap", attack_length_wrap },
	{ "indirect", attack_indirect },
	{ "ring-index", attack_ring_index },
	{ "scribble", attack_scribble },
	{ "notify-storm", attack_notify_storm },
	{ "requests", attack_requests },
};

/* ---- the probe ---------------------------------------------------------- */

static const struct {
	const char *name;
	uint16_t type, queues, pop;
	bool readable;
} kinds[] = {
	{ "blk", VIRTIO_TYPE_BLOCK, 1, 0, false },
	{ "rng", VIRTIO_TYPE_RNG, 1, 0, false },
	{ "console", VIRTIO_TYPE_CONSOLE, 2, 1, true },
	{ "net", 1, 2, 1, true },
};

/* Fills `t` for the device named by option `key` (default `fallback`); false for an unknown name or "none". */
static bool choose(struct target *t, const char *key, const char *fallback)
{
	const char *value = fallback;
	uint32_t length = strnlen(fallback, 16), i;

	(void)option_find(key, &value, &length);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (word_equals(value, length, kinds[i].name)) {
			t->name = kinds[i].name;
			t->type = kinds[i].type;
			t->queues = kinds[i].queues;
			t->pop = kinds[i].pop;
			t->readable = kinds[i].readable;
			return true;
		}
	}
	return false;
}

/* The end of the highest RAM entry below 4 GiB in start_info's memory map (0 if none). */
static uint32_t find_ram_end(void)
{
	const struct hvm_memmap_table_entry *entries;
	uint64_t end = 0;
	uint32_t i;

	if (!boot.start_info || boot.start_info->version < 1 || !boot.start_info->memmap_paddr
	    || boot.start_info->memmap_paddr > 0xffffffffu - MEMMAP_MAX_ENTRIES * sizeof(*entries))
		return 0;
	entries = (const struct hvm_memmap_table_entry *)(uint32_t)boot.start_info->memmap_paddr;
	for (i = 0; i < boot.start_info->memmap_entries && i < MEMMAP_MAX_ENTRIES; i++) {
		struct hvm_memmap_table_entry e = entries[i];
		if (e.type == XEN_HVM_MEMMAP_TYPE_RAM && e.addr + e.size <= 0x100000000ull && e.addr + e.size > end)
			end = e.addr + e.size;
	}
	return (uint32_t)end;
}

void probe_virtio_attack(void)
{
	static struct target t, w;
	const char *error = "";
	const char *list;
	bool have_witness, all;
	uint32_t i, run = 0, held = 0, list_length;
	char name[48];

	outside = option_u32("hostile-address", 0xf0000000u, 0x1000, 0xfffff000u);
	ram_end = find_ram_end();
	if (!choose(&t, "attack-target", "rng")) {
		probe_result(false, "probe.attack-target names no device this probe knows");
		return;
	}
	have_witness = choose(&w, "attack-witness", t.type == VIRTIO_TYPE_RNG ? "blk" : "rng");
	if (have_witness && w.type == t.type) {
		probe_result(false, "the witness must be another device than the target");
		return;
	}
	if (ram_end < (4u << 20)) {
		probe_result(false, "no RAM map in start_info (or under 4 MiB of RAM)");
		return;
	}
	t.rings = target_rings;
	t.scratch = target_scratch;
	w.rings = witness_rings;
	w.scratch = witness_scratch;
	if (!virtio_find(t.type, &t.d, &error)) {
		probe_result(false, "target %s: %s", t.name, error);
		return;
	}
	if (have_witness && (!virtio_find(w.type, &w.d, &error) || !bring_up(&w, 0, QUEUE_SIZE))) {
		probe_result(false, "witness %s: %s", w.name, *error ? error : "bring-up failed");
		return;
	}

	all = !option_find("attacks", &list, &list_length);
	for (i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		struct report detail = { "", 0 }, after = { "", 0 }, witness = { "", 0 };
		bool held_up, recovered, witnessed = true;

		if (!all && !option_list_contains("attacks", attacks[i].name))
			continue;
		held_up = attacks[i].run(&t, &detail);
		recovered = recover(&t, &after);
		if (have_witness)
			witnessed = legal_request(&w, &witness, w.name);
		format_string(name, sizeof(name), "attack/%s/%s", t.name, attacks[i].name);
		probe_named_result(name, held_up && recovered && witnessed, "%s; after reset %s; witness %s",
				   detail.text, after.text, have_witness ? witness.text : "none");
		held += held_up && recovered && witnessed;
		run++;
	}
	/* Leave the target as a driver would find it. */
	(void)reset(&t);
	probe_result(run > 0 && held == run, "%s: %u/%u attacks held, witness %s", t.name, held, run, have_witness ? w.name : "none");
}
