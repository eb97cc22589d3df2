using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// An epoll instance (epoll(7)): the vsock worker's one wait, over its queues' eventfds, its work and stop signals
/// and every connection's Unix socket, so that a socket's readiness is served by the thread that moves the data,
/// with no hand-off. Registrations are edge-triggered (EPOLLET): a source reports a change once, and the worker
/// reads or writes until EAGAIN before it relies on the next report. The numbers are checked against
/// &lt;sys/epoll.h&gt; by a test.
/// </summary>
internal sealed unsafe partial class Epoll : SafeHandle
{
    public const uint In = 0x001;        // EPOLLIN
    public const uint Out = 0x004;       // EPOLLOUT
    public const uint Error = 0x008;     // EPOLLERR
    public const uint HangUp = 0x010;    // EPOLLHUP
    public const uint ReadHangUp = 0x2000; // EPOLLRDHUP
    public const uint EdgeTriggered = 1u << 31; // EPOLLET

    private const int CtlAdd = 1, CtlDel = 2, CtlMod = 3; // EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD
    private const int EpollCloexec = 0x80000; // EPOLL_CLOEXEC
    private const int EINTR = 4, ENOENT = 2, EBADF = 9;

    /// <summary>Creates the instance.</summary>
    /// <exception cref="IOException">The host is out of descriptors.</exception>
    public Epoll() : base(invalidHandleValue: -1, ownsHandle: true)
    {
        int fd = EpollCreate1(EpollCloexec);
        if (fd < 0)
            throw Failed("epoll_create1");
        SetHandle(fd);
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == -1;

    /// <summary>Watches <paramref name="fd"/> for <paramref name="events"/>, reporting <paramref name="token"/>.</summary>
    /// <exception cref="IOException">epoll_ctl failed.</exception>
    public void Add(SafeHandle fd, uint events, ulong token)
    {
        var e = new EpollEvent { Events = events, Data = token };
        if (EpollCtl(this, CtlAdd, fd, &e) != 0)
            throw Failed("epoll_ctl(EPOLL_CTL_ADD)");
    }

    /// <summary>
    /// Changes what <paramref name="fd"/> is watched for. The kernel looks at its readiness again at once, so an
    /// edge-triggered source already ready for the new events reports them on the next wait.
    /// </summary>
    /// <exception cref="IOException">epoll_ctl failed.</exception>
    public void Modify(SafeHandle fd, uint events, ulong token)
    {
        var e = new EpollEvent { Events = events, Data = token };
        if (EpollCtl(this, CtlMod, fd, &e) != 0)
            throw Failed("epoll_ctl(EPOLL_CTL_MOD)");
    }

    /// <summary>Stops watching <paramref name="fd"/> (a descriptor closed already, or never added, is no error).</summary>
    public void Remove(SafeHandle fd)
    {
        var e = default(EpollEvent);
        if (EpollCtl(this, CtlDel, fd, &e) != 0 && Marshal.GetLastPInvokeError() is not (ENOENT or EBADF))
            throw Failed("epoll_ctl(EPOLL_CTL_DEL)");
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMilliseconds"/> (-1: no limit) for events, filling <paramref name="events"/>;
    /// returns how many (0 on timeout). EINTR restarts the wait.
    /// </summary>
    /// <exception cref="IOException">epoll_wait failed.</exception>
    public int Wait(Span<EpollEvent> events, int timeoutMilliseconds)
    {
        while (true)
        {
            int n;
            fixed (EpollEvent* p = events)
                n = EpollWait(this, p, events.Length, timeoutMilliseconds); // Safety: the span is pinned for the call
            if (n >= 0)
                return n;
            if (Marshal.GetLastPInvokeError() != EINTR)
                throw Failed("epoll_wait");
        }
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle() => NetLibc.Close((int)handle) == 0;

    private static IOException Failed(string call)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(SafeHandle epoll, int op, SafeHandle fd, EpollEvent* @event);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(SafeHandle epoll, EpollEvent* events, int maxEvents, int timeout);
}

/// <summary>struct epoll_event (&lt;sys/epoll.h&gt;; packed on x86-64: 12 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct EpollEvent
{
    /// <summary>sizeof(struct epoll_event) on x86-64.</summary>
    public const int Size = 12;

    /// <summary>events: what happened (EPOLLIN, EPOLLOUT, ...).</summary>
    public uint Events;

    /// <summary>data.u64: the token given at registration.</summary>
    public ulong Data;
}
