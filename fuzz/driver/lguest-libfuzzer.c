// libFuzzer in front of a .NET fuzz target that calls SharpFuzz's Fuzzer.LibFuzzer.Run (SharpFuzz 2.x).
//
// libFuzzer calls LLVMFuzzerTestOneInput in this process; the managed target runs in a child process
// (`dotnet Lguest.Fuzz.dll TARGET`) that stays up for the whole run. They share one System V segment:
// the first 64 KiB are SharpFuzz's edge map (the instrumented assemblies increment map[prev ^ cur]),
// the rest holds the current input. Two pipes carry 32-bit little-endian words: the child says 0 once
// it is ready; then for each input the driver writes its length on the control pipe and the child
// answers 0 (ran) or 2 (an exception escaped: a crash; the child prints it and leaves).
//
// The child's map is copied into an array in the __libfuzzer_extra_counters section after each run,
// so libFuzzer sees the managed edges as its own features ("ft:" in its status lines; "cov:" counts
// only this driver's native edges). At exit the driver prints how many distinct map slots the
// inputs of this process touched, the figure comparable to AFL's edge count.
//
// Usage: lguest-libfuzzer [libFuzzer flags] [corpus dirs] --target_path=PROGRAM --target_arg=ARG...
// (libFuzzer ignores flags that start with "--", so these pass through untouched).
// Build: clang -fsanitize=fuzzer -O2 lguest-libfuzzer.c -o lguest-libfuzzer (fuzz/run.sh does this).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// SharpFuzz's map size (Fuzzer.MapSize): the instrumentation indexes it with 16-bit locations.
#define MAP_SIZE (1 << 16)
// The largest input handed to the child; run.sh keeps -max_len below it. Longer inputs are cut.
#define MAX_INPUT (1 << 20)
// The descriptor numbers the child finds its pipe ends at (any free numbers would do).
#define CHILD_CONTROL_FD 198
#define CHILD_STATUS_FD 199
#define MAX_TARGET_ARGS 32

// "used": nothing in this file reads the array, and the compiler must keep it (and its section) anyway.
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t extra_counters[MAP_SIZE];

static uint8_t *shared;          // [0, MAP_SIZE): edge map; [MAP_SIZE, +MAX_INPUT): the input
static uint8_t touched[MAP_SIZE]; // every slot any run of this process hit
static int control_fd = -1;      // driver -> child: input lengths
static int status_fd = -1;       // child -> driver: results
static pid_t child = -1;

static void die(const char *what)
{
    fprintf(stderr, "lguest-libfuzzer: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int write_word(int fd, int32_t value)
{
    const uint8_t *p = (const uint8_t *)&value;
    size_t done = 0;
    while (done < sizeof value) {
        ssize_t n = write(fd, p + done, sizeof value - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

// Returns 0 and the word, or -1 when the child is gone (end of file) or the pipe failed.
static int read_word(int fd, int32_t *value)
{
    uint8_t *p = (uint8_t *)value;
    size_t done = 0;
    while (done < sizeof *value) {
        ssize_t n = read(fd, p + done, sizeof *value - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static void report_touched(void)
{
    if (shared == NULL)
        return;
    unsigned count = 0;
    for (size_t i = 0; i < MAP_SIZE; i++)
        count += touched[i] != 0;
    fprintf(stderr, "lguest-libfuzzer: %u edges (distinct map slots touched by the inputs this process ran)\n", count);
}

static void stop_child(void)
{
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *path = NULL;
    char *target_argv[MAX_TARGET_ARGS + 2];
    int target_argc = 0;
    for (int i = 1; i < *argc; i++) {
        const char *a = (*argv)[i];
        if (strncmp(a, "--target_path=", 14) == 0)
            path = a + 14;
        else if (strncmp(a, "--target_arg=", 13) == 0 && target_argc < MAX_TARGET_ARGS)
            target_argv[1 + target_argc++] = (char *)(a + 13);
    }
    if (path == NULL) {
        fprintf(stderr, "lguest-libfuzzer: --target_path=PROGRAM [--target_arg=ARG]... is required\n");
        exit(1);
    }
    target_argv[0] = (char *)path;
    target_argv[1 + target_argc] = NULL;

    int id = shmget(IPC_PRIVATE, MAP_SIZE + MAX_INPUT, IPC_CREAT | IPC_EXCL | 0600);
    if (id < 0)
        die("shmget");
    shared = shmat(id, NULL, 0);
    if (shared == (void *)-1)
        die("shmat");
    // Linux lets the child attach a segment marked for removal; marking it now means it cannot
    // outlive this process however the run ends.
    if (shmctl(id, IPC_RMID, NULL) < 0)
        die("shmctl IPC_RMID");

    int control[2], status[2];
    if (pipe2(control, O_CLOEXEC) < 0 || pipe2(status, O_CLOEXEC) < 0)
        die("pipe2");
    char id_text[32];
    snprintf(id_text, sizeof id_text, "%d", id);
    setenv("__LIBFUZZER_SHM_ID", id_text, 1);
    setenv("__LIBFUZZER_CONTROL_PIPE_ID", "198", 1);
    setenv("__LIBFUZZER_STATUS_PIPE_ID", "199", 1);

    pid_t parent = getpid();
    child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        // The child dies with the driver (a libFuzzer timeout or crash exits without cleaning up).
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        // dup2 clears close-on-exec on the copies; every other pipe end closes at exec.
        if (dup2(control[0], CHILD_CONTROL_FD) < 0 || dup2(status[1], CHILD_STATUS_FD) < 0)
            _exit(1);
        execvp(path, target_argv);
        fprintf(stderr, "lguest-libfuzzer: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(control[0]);
    close(status[1]);
    control_fd = control[1];
    status_fd = status[0];
    signal(SIGPIPE, SIG_IGN);
    atexit(report_touched);

    int32_t hello;
    if (read_word(status_fd, &hello) < 0 || hello != 0) {
        fprintf(stderr, "lguest-libfuzzer: the target did not start (is it a SharpFuzz Fuzzer.LibFuzzer.Run program?)\n");
        stop_child();
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        size = MAX_INPUT;
    memset(shared, 0, MAP_SIZE);
    memcpy(shared + MAP_SIZE, data, size);
    int32_t result;
    if (write_word(control_fd, (int32_t)size) < 0 || read_word(status_fd, &result) < 0) {
        // The child died under this input without reporting (stack overflow, FailFast, a signal):
        // a crash as much as an exception is.
        fprintf(stderr, "lguest-libfuzzer: the target process died on this input\n");
        abort();
    }
    memcpy(extra_counters, shared, MAP_SIZE);
    for (size_t i = 0; i < MAP_SIZE; i++)
        touched[i] |= shared[i];
    if (result != 0) {
        // The child printed the exception and left: let libFuzzer save the input as crash-<sha1>.
        fprintf(stderr, "lguest-libfuzzer: the target reported a crash (status %d)\n", result);
        waitpid(child, NULL, 0);
        child = -1;
        abort();
    }
    return 0;
}
