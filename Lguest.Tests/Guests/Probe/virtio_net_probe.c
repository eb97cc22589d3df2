/* The virtio-net probe (run only when named in probe.only): brings the card
 * up with VIRTIO_F_VERSION_1 and VIRTIO_NET_F_MAC only (so every frame comes
 * whole and checksummed, one per receive chain), posts its receive buffers,
 * prints "PROBE virtio-net ready ...", then answers on probe.net-ip
 * (default 10.0.3.2):
 *   - ARP requests for that address;
 *   - ICMP echo requests (so the host's ping works);
 *   - UDP datagrams to port 7, echoed back (addresses and ports swapped).
 * Each reply is built in the receive buffer it arrived in and sent from
 * there: swapping addresses and ports leaves the IP and UDP checksums as
 * they are, and turning an echo request into a reply adds 0x0800 to the
 * ICMP one, so nothing is copied or summed. A UDP datagram to port 9 ends
 * the probe (ok), as does probe.net-wait ms (default 120000) without a frame
 * (fail). The probe polls both queues and asks for no interrupts. */
#include "io.h"
#include "pit.h"
#include "probe.h"
#include "string.h"
#include "virtio.h"

#define VIRTIO_NET_F_MAC   (1u << 5)
#define NET_HEADER         12      /* struct virtio_net_hdr_v1 */
#define BUFFER_BYTES       1536    /* header + 1514-byte frame, rounded up */
#define ETH_HEADER         14
#define ETHERTYPE_IPV4     0x0800
#define ETHERTYPE_ARP      0x0806
#define IP_PROTO_ICMP      1
#define IP_PROTO_UDP       17
#define ECHO_PORT          7
#define STOP_PORT          9
#define TX_TIMEOUT_MS      VIRTIO_ANSWER_WAIT_MS

static uint8_t queue_pages[2][4096] __attribute__((aligned(4096)));
static uint8_t buffers[VIRTQ_SIZE][BUFFER_BYTES] __attribute__((aligned(16)));
static uint8_t mac[6];
static uint8_t ip[4];

struct counts {
	uint32_t arp, icmp, udp, bytes, ignored;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t value)
{
	p[0] = (uint8_t)(value >> 8);
	p[1] = (uint8_t)value;
}

static void swap_bytes(uint8_t *a, uint8_t *b, uint32_t length)
{
	uint32_t i;

	for (i = 0; i < length; i++) {
		uint8_t t = a[i];
		a[i] = b[i];
		b[i] = t;
	}
}

/* probe.net-ip=a.b.c.d */
static bool parse_ip(const char *text, uint32_t length, uint8_t out[4])
{
	uint32_t part = 0, start = 0, i, value;

	for (i = 0; i <= length; i++) {
		if (i == length || text[i] == '.') {
			if (part == 4 || !parse_u32(text + start, i - start, &value) || value > 255)
				return false;
			out[part++] = (uint8_t)value;
			start = i + 1;
		}
	}
	return part == 4;
}

static void post_receive(struct virtq *rx, uint16_t id)
{
	struct virtio_buffer b = { buffers[id], BUFFER_BYTES, true };

	virtio_queue_add(rx, id, &b, 1);
}

/* Sends `length` bytes of frame from buffer `id` (behind a zeroed header) and waits for the device to
 * take it, so the buffer can go back to the receive queue. */
static bool transmit(struct virtq *tx, uint16_t id, uint32_t length)
{
	struct virtio_buffer b = { buffers[id], NET_HEADER + length, false };
	uint32_t used_id, used_length, waited = 0;

	memset(buffers[id], 0, NET_HEADER);
	virtio_queue_add(tx, 0, &b, 1);
	virtio_queue_kick(tx);
	while (!virtio_queue_take(tx, &used_id, &used_length)) {
		if (waited++ == TX_TIMEOUT_MS)
			return false;
		pit_delay_ms(1);
	}
	return true;
}

/* Turns the frame in place into the reply to it, if it deserves one; returns the reply's length
 * (0: none), and sets *stop for a datagram to the stop port. */
static uint32_t reply(uint8_t *frame, uint32_t length, struct counts *counts, bool *stop)
{
	uint16_t type;

	if (length < ETH_HEADER)
		return 0;
	type = be16(frame + 12);
	if (type == ETHERTYPE_ARP) {
		uint8_t *arp = frame + ETH_HEADER;
		/* Ethernet/IPv4 request (htype 1, ptype 0x800, hlen 6, plen 4, oper 1) for our address */
		if (length < ETH_HEADER + 28 || be16(arp) != 1 || be16(arp + 2) != ETHERTYPE_IPV4 || arp[4] != 6
		    || arp[5] != 4 || be16(arp + 6) != 1 || memcmp(arp + 24, ip, 4) != 0)
			return 0;
		put_be16(arp + 6, 2);
		memcpy(arp + 18, arp + 8, 10);  /* target: the asker's MAC and IP */
		memcpy(arp + 8, mac, 6);        /* sender: us */
		memcpy(arp + 14, ip, 4);
		memcpy(frame, arp + 18, 6);
		memcpy(frame + 6, mac, 6);
		counts->arp++;
		return ETH_HEADER + 28;
	}
	if (type == ETHERTYPE_IPV4) {
		uint8_t *iph = frame + ETH_HEADER;
		uint8_t *l4 = iph + 20;
		uint32_t total;

		/* No IP options, not a fragment, to us. */
		if (length < ETH_HEADER + 20 || iph[0] != 0x45 || (be16(iph + 6) & 0x3fff) != 0 || memcmp(iph + 16, ip, 4) != 0)
			return 0;
		total = be16(iph + 2);
		if (total < 28 || total > length - ETH_HEADER)
			return 0;
		if (iph[9] == IP_PROTO_ICMP && l4[0] == 8 && l4[1] == 0) {
			uint32_t sum = be16(l4 + 2) + 0x0800u; /* type 8 -> 0: the one's complement sum drops by 0x0800 */
			l4[0] = 0;
			put_be16(l4 + 2, (uint16_t)((sum & 0xffff) + (sum >> 16)));
			counts->icmp++;
		} else if (iph[9] == IP_PROTO_UDP && be16(l4 + 2) == ECHO_PORT) {
			swap_bytes(l4, l4 + 2, 2);
			counts->udp++;
			counts->bytes += total - 28;
		} else {
			if (iph[9] == IP_PROTO_UDP && be16(l4 + 2) == STOP_PORT)
				*stop = true;
			return 0;
		}
		swap_bytes(iph + 12, iph + 16, 4);
		memcpy(frame, frame + 6, 6);
		memcpy(frame + 6, mac, 6);
		return ETH_HEADER + total;
	}
	return 0;
}

void probe_virtio_net(void)
{
	struct virtio_device d;
	struct virtq rx, tx;
	struct counts counts = { 0, 0, 0, 0, 0 };
	const char *error, *text;
	uint32_t accepted, length, i, idle = 0;
	uint32_t wait_ms = option_u32("net-wait", 120000, 1, 3600000);
	bool stop = false;

	if (!option_find("net-ip", &text, &length)) {
		text = "10.0.3.2";
		length = 8;
	}
	if (!parse_ip(text, length, ip)) {
		probe_result(false, "probe.net-ip is not an IPv4 address");
		return;
	}
	if (!virtio_find(VIRTIO_TYPE_NET, &d, &error) || !virtio_negotiate_features(&d, VIRTIO_NET_F_MAC, &accepted, &error)
	    || !virtio_queue_setup(&d, &rx, 0, queue_pages[0], &error) || !virtio_queue_setup(&d, &tx, 1, queue_pages[1], &error)
	    || !virtio_driver_ok(&d, &error)) {
		probe_result(false, "%s", error);
		return;
	}
	if (!(accepted & VIRTIO_NET_F_MAC) || d.device_length < 6) {
		probe_result(false, "no MAC address offered");
		return;
	}
	for (i = 0; i < 6; i++)
		mac[i] = mmio_read8(d.device + i);
	virtio_queue_no_interrupts(&rx);
	virtio_queue_no_interrupts(&tx);
	for (i = 0; i < rx.size; i++)
		post_receive(&rx, (uint16_t)i);
	virtio_queue_kick(&rx);
	probe_info("virtio-net", "ready mac %02x:%02x:%02x:%02x:%02x:%02x ip %u.%u.%u.%u queue %u",
		   mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], ip[0], ip[1], ip[2], ip[3], rx.size);

	while (!stop) {
		uint32_t id, used, out;

		if (!virtio_queue_take(&rx, &id, &used)) {
			if (idle++ == wait_ms) {
				probe_result(false, "no frame for %u ms: arp %u icmp %u udp %u", wait_ms, counts.arp, counts.icmp, counts.udp);
				return;
			}
			pit_delay_ms(1);
			continue;
		}
		idle = 0;
		/* The device's word, checked: an id we never posted or a length beyond the buffer is a failure. */
		if (id >= rx.size || used > BUFFER_BYTES || used < NET_HEADER) {
			probe_result(false, "receive used element id %u length %u", id, used);
			return;
		}
		out = reply(buffers[id] + NET_HEADER, used - NET_HEADER, &counts, &stop);
		if (out == 0)
			counts.ignored++;
		else if (!transmit(&tx, (uint16_t)id, out)) {
			probe_result(false, "transmit not used within %u ms", TX_TIMEOUT_MS);
			return;
		}
		post_receive(&rx, (uint16_t)id);
		virtio_queue_kick(&rx);
	}
	probe_result(true, "arp %u icmp %u udp %u udp-bytes %u ignored %u", counts.arp, counts.icmp, counts.udp, counts.bytes,
		     counts.ignored);
}
