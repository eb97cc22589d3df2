/* mmap-check FILE: the virtio-fs scenario's mmap test (scenarios/virtiofs), run by the guest from the share.
 * Makes FILE 64 KiB, writes it through a MAP_SHARED mapping (byte i = (i * 7 + 13) & 0xff), msync and
 * munmap, then maps it again read-only and checks every byte; prints what failed and exits 1, else exits 0.
 * Built static by virtiofs-l1.sh (or the test) with the host's gcc: the guest image has no libc. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE 65536

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mmap-check FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, SIZE) != 0) {
        perror("open/ftruncate");
        return 1;
    }
    unsigned char *map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        perror("mmap shared");
        return 1;
    }
    for (int i = 0; i < SIZE; i++)
        map[i] = (unsigned char)(i * 7 + 13);
    if (msync(map, SIZE, MS_SYNC) != 0 || munmap(map, SIZE) != 0 || close(fd) != 0) {
        perror("msync/munmap/close");
        return 1;
    }
    fd = open(argv[1], O_RDONLY);
    map = fd < 0 ? MAP_FAILED : mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        perror("mmap again");
        return 1;
    }
    for (int i = 0; i < SIZE; i++) {
        if (map[i] != (unsigned char)(i * 7 + 13)) {
            fprintf(stderr, "byte %d is %d\n", i, map[i]);
            return 1;
        }
    }
    return 0;
}
