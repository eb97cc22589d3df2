using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Lguest.Devices;
using Lguest.Tests.Support;
using Lguest.Virtio;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Tests.Devices.Net;

/// <summary>
/// A transmitter served on the notifying thread, as <see cref="VirtioNetDevice"/> wires it (its worker under
/// <see cref="DeviceWorkers"/>, its inline server on the queue), writing either to the bed's real tap or to one end of
/// a datagram socket pair whose other end the test reads (<see cref="Receive"/>) or leaves full: a tap whose queue is full
/// on demand. Each datagram is a frame with its 12-byte header, as a tap takes it.
/// </summary>
internal sealed partial class TransmitRig : IDisposable
{
    private const int AfUnix = 1;                // AF_UNIX, <sys/socket.h>
    private const int SockDgram = 2;             // SOCK_DGRAM
    private const int SockNonblock = 0x800;      // SOCK_NONBLOCK
    private const int SockCloexec = 0x80000;     // SOCK_CLOEXEC
    private const int SolSocket = 1;             // SOL_SOCKET
    private const int SoSndbuf = 7;              // SO_SNDBUF

    private readonly TapDevice? _pairTap;
    private readonly SafeFileHandle? _peer; // the pair's reading end

    public TransmitRig(NetTestBed bed, bool socketPair)
    {
        Bed = bed;
        TapDevice tap = bed.Tap;
        if (socketPair)
        {
            (int sender, int receiver) = SocketPair();
            // The smallest send buffer the kernel allows (it rounds up to about 4.6 KiB): a few frames fill it.
            int size = 1;
            _ = SetSockOpt(sender, SolSocket, SoSndbuf, ref size, sizeof(int));
            _pairTap = TapDevice.Adopt(sender, "pair");
            tap = _pairTap;
            _peer = new SafeFileHandle(receiver, ownsHandle: true);
        }
        Queue = bed.Tx.CreateQueue("net0 vq 1");
        Workers = new DeviceWorkers("net0", bed.Transport);
        Transmitter = new NetTransmitter(bed.Memory, Queue, bed.Transport, tap, NetTestBed.RingFeatures, bed.Counters, Workers.Stop, "net0", Logger)
        {
            ServesOnVcpu = true,
        };
        Workers.ServeNotificationsInline(Queue, Transmitter.ServeNotification);
        Workers.Start(Queue.Ring.Name, Transmitter.Run);
    }

    public NetTestBed Bed { get; }

    public Virtqueue Queue { get; }

    public DeviceWorkers Workers { get; }

    public NetTransmitter Transmitter { get; }

    public RecordingLogger<NetTransmitter> Logger { get; } = new();

    /// <summary>The pair's writing end, the transmitter's "tap".</summary>
    public SafeHandle PairTap => _pairTap!.Handle;

    /// <summary>Fills the pair's queue with 100-byte datagrams written straight to it, until it refuses one; returns how many.</summary>
    public int FillPair()
    {
        var datagram = new byte[100];
        int count = 0;
        while (true)
        {
            nint n = Write(PairTap, datagram, datagram.Length);
            if (n < 0)
            {
                Assert.That(Marshal.GetLastPInvokeError(), Is.EqualTo(11), "EAGAIN once the pair is full");
                return count;
            }
            count++;
        }
    }

    /// <summary>The next datagram the pair's other end receives.</summary>
    public unsafe byte[] Receive()
    {
        // The pair's ends are non-blocking (as a tap is): wait for the datagram first.
        var poll = new PollFd { Fd = (int)_peer!.DangerousGetHandle(), Events = 1 /* POLLIN */ };
        if (Poll(&poll, 1, VirtqueueDriver.PatienceMilliseconds) != 1)
            Assert.Fail($"no datagram on the pair within {VirtqueueDriver.PatienceMilliseconds} ms");
        var buffer = new byte[65536];
        nint n = Read(_peer, buffer, buffer.Length);
        if (n < 0)
            Assert.Fail($"read from the pair failed: errno {Marshal.GetLastPInvokeError()}");
        return buffer[..(int)n];
    }

    /// <summary>Runs <paramref name="body"/> on a thread of its own (as a vCPU's), failing the test if it does not end in time.</summary>
    public static void OnThread(string name, Action body)
    {
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        }) { Name = name, IsBackground = true };
        thread.Start();
        Assert.That(thread.Join(VirtqueueDriver.PatienceMilliseconds * 3), Is.True, $"'{name}' did not end: it waited for something");
        failure?.Throw();
    }

    /// <summary>The io_uring descriptors this process holds.</summary>
    public static int IoUringDescriptors()
    {
        int count = 0;
        foreach (string fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget == "anon_inode:[io_uring]")
                    count++;
            }
            catch (IOException)
            {
                // closed while we looked
            }
        }
        return count;
    }

    public void Dispose()
    {
        Workers.StopAndJoin();
        _peer?.Dispose();
        _pairTap?.Dispose();
    }

    private static unsafe (int Sender, int Receiver) SocketPair()
    {
        int* fds = stackalloc int[2];
        if (SocketPairNative(AfUnix, SockDgram | SockNonblock | SockCloexec, 0, fds) != 0)
            Assert.Fail($"socketpair failed: errno {Marshal.GetLastPInvokeError()}");
        return (fds[0], fds[1]);
    }

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    private static unsafe partial int SocketPairNative(int domain, int type, int protocol, int* fds);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, ref int value, int length);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(SafeHandle fd, byte[] buffer, nint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd // struct pollfd, <poll.h>
    {
        public int Fd;
        public short Events;
        public short Returned;
    }

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(SafeHandle fd, byte[] buffer, nint count);
}
