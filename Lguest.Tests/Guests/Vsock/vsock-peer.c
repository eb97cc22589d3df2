// vsock-peer: both ends of the vsock tests and benchmarks, in the guest (AF_VSOCK) and on the host (AF_VSOCK for
// vhost-vsock, AF_UNIX with Firecracker's CONNECT handshake for lguest's hybrid vsock). Built static by build.sh;
// see README.md for the commands and the lines it prints.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "vsock-peer: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Addresses: vsock:CID:PORT, vsock-listen:PORT, unix:PATH, unix-listen:PATH, hybrid:PATH:PORT (connect to
// PATH, then "CONNECT PORT\n" and wait for "OK <port>\n": Firecracker's hybrid vsock).
struct address {
	enum { VSOCK, VSOCK_LISTEN, UNIX, UNIX_LISTEN, HYBRID } kind;
	unsigned cid, port;
	char path[108];
};

static struct address parse(const char *text)
{
	struct address a = { 0 };
	const char *colon;
	if (sscanf(text, "vsock:%u:%u", &a.cid, &a.port) == 2) {
		a.kind = VSOCK;
	} else if (sscanf(text, "vsock-listen:%u", &a.port) == 1) {
		a.kind = VSOCK_LISTEN;
	} else if (strncmp(text, "unix-listen:", 12) == 0 && strlen(text + 12) < sizeof a.path) {
		a.kind = UNIX_LISTEN;
		strcpy(a.path, text + 12);
	} else if (strncmp(text, "unix:", 5) == 0 && strlen(text + 5) < sizeof a.path) {
		a.kind = UNIX;
		strcpy(a.path, text + 5);
	} else if (strncmp(text, "hybrid:", 7) == 0 && (colon = strrchr(text + 7, ':')) != NULL &&
		   (size_t)(colon - text - 7) < sizeof a.path) {
		a.kind = HYBRID;
		memcpy(a.path, text + 7, (size_t)(colon - text - 7));
		a.port = (unsigned)strtoul(colon + 1, NULL, 10);
	} else {
		die("bad address '%s'", text);
	}
	return a;
}

static int read_line(int fd, char *line, size_t size)
{
	size_t n = 0;
	while (n + 1 < size) {
		ssize_t r = read(fd, line + n, 1);
		if (r <= 0)
			return -1;
		if (line[n++] == '\n')
			break;
	}
	line[n] = 0;
	return (int)n;
}

// Connects; -1 with errno when refused (the caller decides whether to retry).
static int try_connect(const struct address *a)
{
	int fd;
	if (a->kind == VSOCK) {
		struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = a->cid, .svm_port = a->port };
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket(AF_VSOCK): %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		return fd;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, a->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket(AF_UNIX): %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (a->kind == HYBRID) {
		char line[64];
		int n = snprintf(line, sizeof line, "CONNECT %u\n", a->port);
		if (write(fd, line, (size_t)n) != n || read_line(fd, line, sizeof line) < 0 || strncmp(line, "OK ", 3) != 0) {
			close(fd);
			errno = ECONNREFUSED;
			return -1;
		}
	}
	return fd;
}

// Connects, retrying a refusal for up to 60 s (the other side may still be starting).
static int connect_to(const struct address *a)
{
	double deadline = now() + 60;
	for (;;) {
		int fd = try_connect(a);
		if (fd >= 0)
			return fd;
		if (now() > deadline)
			die("connect: %s", strerror(errno));
		usleep(100 * 1000);
	}
}

static int listen_on(const struct address *a)
{
	int fd;
	if (a->kind == VSOCK_LISTEN) {
		struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = a->port };
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
			die("bind vsock port %u: %s", a->port, strerror(errno));
	} else if (a->kind == UNIX_LISTEN) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		strcpy(sa.sun_path, a->path);
		unlink(a->path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
			die("bind %s: %s", a->path, strerror(errno));
	} else {
		die("not a listening address");
	}
	if (listen(fd, 128) < 0)
		die("listen: %s", strerror(errno));
	return fd;
}

static int open_one(const char *text)
{
	struct address a = parse(text);
	if (a.kind == VSOCK_LISTEN || a.kind == UNIX_LISTEN) {
		int l = listen_on(&a);
		int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			die("accept: %s", strerror(errno));
		close(l);
		return fd;
	}
	return connect_to(&a);
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

// A deterministic stream: xorshift64* from a seed, so both ends can make or check it without storing it.
struct pattern {
	uint64_t state;
	uint8_t block[8];
	int used;
};

static void pattern_init(struct pattern *p, uint64_t seed)
{
	p->state = seed * 0x9E3779B97F4A7C15ull + 1;
	p->used = 8;
}

static void pattern_fill(struct pattern *p, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p->used == 8) {
			p->state ^= p->state >> 12;
			p->state ^= p->state << 25;
			p->state ^= p->state >> 27;
			uint64_t v = p->state * 0x2545F4914F6CDD1Dull;
			memcpy(p->block, &v, 8);
			p->used = 0;
		}
		out[i] = p->block[p->used++];
	}
}

// pipe ADDR: stdin to the socket and the socket to stdout, at once (the socket never blocks us, so a peer that
// echoes cannot deadlock against us); stdin's end is a half-close. Ends when both directions have ended.
static int cmd_pipe(const char *addr)
{
	int fd = open_one(addr);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	static uint8_t in[CHUNK], out[CHUNK];
	size_t pending = 0, offset = 0;
	bool in_open = true, sock_open = true;
	while (sock_open || in_open || pending) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = (sock_open ? POLLIN : 0) | (pending ? POLLOUT : 0) },
			{ .fd = in_open && !pending ? 0 : -1, .events = POLLIN },
		};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (sock_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t r = read(fd, out, sizeof out);
			if (r == 0 || (r < 0 && errno != EAGAIN))
				sock_open = false;
			else if (r > 0 && !write_all(1, out, (size_t)r))
				die("write stdout: %s", strerror(errno));
		}
		if (pending && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(fd, in + offset, pending);
			if (w > 0) {
				offset += (size_t)w;
				pending -= (size_t)w;
				if (!pending && !in_open)
					shutdown(fd, SHUT_WR);
			} else if (w < 0 && errno != EAGAIN) {
				die("write socket: %s", strerror(errno));
			}
		}
		if (p[1].fd == 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t r = read(0, in, sizeof in);
			if (r <= 0) {
				in_open = false;
				shutdown(fd, SHUT_WR);
			} else {
				pending = (size_t)r;
				offset = 0;
			}
		}
	}
	close(fd);
	return 0;
}

// serve ADDR echo|sink|stall|source [COUNT]: accepts connections (COUNT of them, or forever), each on a thread:
// echo sends back what it reads until the end, sink reads to the end, stall reads nothing and holds on, source
// writes until the peer goes away.
struct serve_job {
	int fd;
	const char *kind;
};

static void *serve_one(void *arg)
{
	struct serve_job *job = arg;
	uint8_t *buf = malloc(65536);
	if (strcmp(job->kind, "stall") == 0) {
		pause();
	} else if (strcmp(job->kind, "source") == 0) {
		memset(buf, 0xa5, 65536);
		while (write_all(job->fd, buf, 65536)) {
		}
	} else {
		bool echo = strcmp(job->kind, "echo") == 0;
		ssize_t r;
		while ((r = read(job->fd, buf, 65536)) > 0)
			if (echo && !write_all(job->fd, buf, (size_t)r))
				break;
	}
	close(job->fd);
	free(buf);
	free(job);
	return NULL;
}

static int cmd_serve(const char *addr, const char *kind, long count)
{
	struct address a = parse(addr);
	int l = listen_on(&a);
	printf("VSOCK-LISTENING %s\n", addr);
	fflush(stdout);
	for (long served = 0; count <= 0 || served < count; served++) {
		int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept: %s", strerror(errno));
		}
		struct serve_job *job = malloc(sizeof *job);
		job->fd = fd;
		job->kind = kind;
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		if (pthread_create(&t, &attr, serve_one, job) != 0)
			die("pthread_create");
		pthread_attr_destroy(&attr);
	}
	return 0;
}

// stream ADDR MIB SEED: sends MIB MiB of the seed's pattern to an echo server while reading what comes back,
// and checks it is the same. Returns whether it was.
struct stream_job {
	struct address a;
	long mib;
	uint64_t seed;
	bool ok;
	double seconds;
};

static void *run_stream(void *arg)
{
	struct stream_job *job = arg;
	int fd = connect_to(&job->a);
	double start = now();
	uint64_t total = (uint64_t)job->mib << 20, sent = 0, received = 0;
	struct pattern out, check;
	pattern_init(&out, job->seed);
	pattern_init(&check, job->seed);
	uint8_t *wbuf = malloc(65536), *rbuf = malloc(65536), *expect = malloc(65536);
	size_t wlen = 0, woff = 0;
	bool ok = true;
	int flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	while (received < total && ok) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < total ? POLLOUT : 0) };
		if (poll(&p, 1, 60000) <= 0) {
			ok = false;
			break;
		}
		if ((p.revents & POLLOUT) && sent < total) {
			if (woff == wlen) {
				wlen = (size_t)(total - sent < 65536 ? total - sent : 65536);
				pattern_fill(&out, wbuf, wlen);
				woff = 0;
			}
			ssize_t w = write(fd, wbuf + woff, wlen - woff);
			if (w > 0) {
				woff += (size_t)w;
				sent += (uint64_t)w;
				if (sent == total)
					shutdown(fd, SHUT_WR);
			} else if (w < 0 && errno != EAGAIN) {
				ok = false;
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(fd, rbuf, 65536);
			if (r > 0) {
				pattern_fill(&check, expect, (size_t)r);
				if (memcmp(rbuf, expect, (size_t)r) != 0)
					ok = false;
				received += (uint64_t)r;
			} else if (r == 0 || errno != EAGAIN) {
				ok = false;
			}
		}
	}
	job->seconds = now() - start;
	job->ok = ok && received == total;
	close(fd);
	free(wbuf);
	free(rbuf);
	free(expect);
	return NULL;
}

// many ADDR COUNT MIB: COUNT connections at once, each streaming its own pattern (seed = its index) to an echo
// server and checking what comes back.
static int cmd_many(const char *addr, long count, long mib)
{
	struct stream_job *jobs = calloc((size_t)count, sizeof *jobs);
	pthread_t *threads = calloc((size_t)count, sizeof *threads);
	double start = now();
	for (long i = 0; i < count; i++) {
		jobs[i].a = parse(addr);
		jobs[i].mib = mib;
		jobs[i].seed = (uint64_t)i + 1;
		if (pthread_create(&threads[i], NULL, run_stream, &jobs[i]) != 0)
			die("pthread_create");
	}
	long good = 0;
	for (long i = 0; i < count; i++) {
		pthread_join(threads[i], NULL);
		good += jobs[i].ok;
	}
	printf("VSOCK-MANY %ld %ld %.2f\n", count, good, now() - start);
	return good == count ? 0 : 1;
}

// churn ADDR COUNT: COUNT times one after another: connect, one byte to an echo server and back, close.
static int cmd_churn(const char *addr, long count)
{
	struct address a = parse(addr);
	double start = now();
	long good = 0;
	for (long i = 0; i < count; i++) {
		int fd = connect_to(&a);
		uint8_t b = (uint8_t)i, back = 0;
		if (write(fd, &b, 1) == 1 && read(fd, &back, 1) == 1 && back == b)
			good++;
		close(fd);
	}
	printf("VSOCK-CHURN %ld %ld %.2f\n", count, good, now() - start);
	return good == count ? 0 : 1;
}

// blast ADDR SECONDS: writes without blocking for SECONDS to a peer that may not read; prints what it took.
static int cmd_blast(const char *addr, double seconds)
{
	int fd = open_one(addr);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	static uint8_t buf[65536];
	uint64_t written = 0;
	double end = now() + seconds;
	while (now() < end) {
		ssize_t w = write(fd, buf, sizeof buf);
		if (w > 0)
			written += (uint64_t)w;
		else if (w < 0 && errno == EAGAIN)
			usleep(10 * 1000);
		else
			break;
	}
	printf("VSOCK-BLAST %" PRIu64 "\n", written);
	fflush(stdout);
	close(fd);
	return 0;
}

// send ADDR MIB / recv ADDR: one direction only, for the benchmarks: send writes MIB MiB and half-closes, then
// waits for the other side's end; recv reads to the end. Both print bytes and seconds.
static int cmd_send(const char *addr, long mib)
{
	int fd = open_one(addr);
	static uint8_t buf[CHUNK];
	uint64_t total = (uint64_t)mib << 20, sent = 0;
	memset(buf, 0x5a, sizeof buf);
	double start = now();
	while (sent < total) {
		size_t n = total - sent < sizeof buf ? (size_t)(total - sent) : sizeof buf;
		if (!write_all(fd, buf, n))
			die("write: %s", strerror(errno));
		sent += n;
	}
	shutdown(fd, SHUT_WR);
	while (read(fd, buf, sizeof buf) > 0) {
	}
	printf("VSOCK-SENT %" PRIu64 " %.4f\n", sent, now() - start);
	close(fd);
	return 0;
}

static int cmd_recv(const char *addr)
{
	int fd = open_one(addr);
	static uint8_t buf[CHUNK];
	uint64_t got = 0;
	double start = 0;
	ssize_t r;
	while ((r = read(fd, buf, sizeof buf)) > 0) {
		if (got == 0)
			start = now();
		got += (uint64_t)r;
	}
	printf("VSOCK-RECEIVED %" PRIu64 " %.4f\n", got, now() - start);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "pipe") == 0)
		return cmd_pipe(argv[2]);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "serve") == 0)
		return cmd_serve(argv[2], argv[3], argc == 5 ? atol(argv[4]) : 0);
	if (argc == 5 && strcmp(argv[1], "many") == 0)
		return cmd_many(argv[2], atol(argv[3]), atol(argv[4]));
	if (argc == 4 && strcmp(argv[1], "churn") == 0)
		return cmd_churn(argv[2], atol(argv[3]));
	if (argc == 4 && strcmp(argv[1], "blast") == 0)
		return cmd_blast(argv[2], atof(argv[3]));
	if (argc == 4 && strcmp(argv[1], "send") == 0)
		return cmd_send(argv[2], atol(argv[3]));
	if (argc == 3 && strcmp(argv[1], "recv") == 0)
		return cmd_recv(argv[2]);
	fprintf(stderr, "usage: vsock-peer pipe ADDR | serve LISTEN echo|sink|stall|source [COUNT] | many ADDR COUNT MIB |\n"
			"       churn ADDR COUNT | blast ADDR SECONDS | send ADDR MIB | recv ADDR\n"
			"addresses: vsock:CID:PORT vsock-listen:PORT unix:PATH unix-listen:PATH hybrid:PATH:PORT\n");
	return 2;
}
