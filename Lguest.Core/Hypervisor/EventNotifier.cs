using System.Runtime.InteropServices;
using Lguest.Interop;

namespace Lguest.Hypervisor;

/// <summary>
/// A wake-up that crosses threads and the kernel: an eventfd. A virtqueue's worker sleeps on one; the
/// guest's notification signals it (directly from KVM through ioeventfd, or from the MMIO bus), and
/// KVM's irqfd takes one to inject an interrupt. Signals coalesce: many signals before a wait wake it once.
/// </summary>
public sealed unsafe class EventNotifier : IDisposable
{
    private readonly FileDescriptor _fd;

    /// <summary>Creates an unsignalled notifier.</summary>
    /// <exception cref="HypervisorException">The host is out of file descriptors.</exception>
    public EventNotifier()
    {
        int fd = Libc.EventFd(0, Libc.EfdCloexec | Libc.EfdNonblock);
        if (fd < 0)
            throw HypervisorException.FromErrno("eventfd", Marshal.GetLastPInvokeError());
        _fd = new FileDescriptor(fd);
    }

    /// <summary>The eventfd, for a backend that registers it with the kernel.</summary>
    internal FileDescriptor Handle => _fd;

    /// <summary>
    /// The eventfd as a handle, for a device worker that polls it together with its own descriptors (a tap, a socket):
    /// readable (POLLIN) while a signal is pending. The notifier keeps ownership; consume signals with
    /// <see cref="TryConsume"/>, never by reading the descriptor.
    /// </summary>
    public System.Runtime.InteropServices.SafeHandle Descriptor => _fd;

    /// <summary>
    /// The eventfd, for a device that waits on it in an event loop of its own (an io_uring poll, epoll):
    /// readable while a signal is pending; <see cref="TryConsume"/> clears it. Do not close it.
    /// </summary>
    public System.Runtime.InteropServices.SafeHandle FileHandle => _fd;

    /// <summary>Wakes the waiter (now or at its next wait).</summary>
    public void Signal()
    {
        ulong one = 1;
        // EAGAIN means the counter is saturated: the waiter is already due to wake.
        _ = Libc.Write(_fd, &one, sizeof(ulong));
    }

    /// <summary>Consumes pending signals without waiting; true if there were any.</summary>
    public bool TryConsume()
    {
        ulong count;
        return Libc.Read(_fd, &count, sizeof(ulong)) == sizeof(ulong);
    }

    /// <summary>
    /// Sleeps until this notifier or <paramref name="stop"/> is signalled, or <paramref name="timeoutMilliseconds"/>
    /// passes (-1: no limit). Returns true, having consumed the signal, when this notifier woke it;
    /// false on stop or timeout (a stop signal is left pending, so every waiter sees it).
    /// </summary>
    public bool Wait(EventNotifier? stop = null, int timeoutMilliseconds = -1)
    {
        Span<Libc.PollFd> fds = stackalloc Libc.PollFd[2];
        bool added = false, stopAdded = false;
        try
        {
            _fd.DangerousAddRef(ref added);
            fds[0] = new Libc.PollFd { Fd = _fd.Number, Events = Libc.PollIn };
            int count = 1;
            if (stop is not null)
            {
                stop._fd.DangerousAddRef(ref stopAdded);
                fds[1] = new Libc.PollFd { Fd = stop._fd.Number, Events = Libc.PollIn };
                count = 2;
            }
            while (true)
            {
                if (stop is not null && (fds[1].ReturnedEvents & Libc.PollIn) != 0)
                    return false;
                if (TryConsume())
                    return true;
                int rc;
                fixed (Libc.PollFd* p = fds)
                    rc = Libc.Poll(p, (nuint)count, timeoutMilliseconds);
                if (rc == 0)
                    return false;
                if (rc < 0 && Marshal.GetLastPInvokeError() != Libc.EINTR)
                    throw HypervisorException.FromErrno("poll", Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            if (added)
                _fd.DangerousRelease();
            if (stopAdded)
                stop!._fd.DangerousRelease();
        }
    }

    /// <summary>Whether a signal is pending, without consuming it.</summary>
    public bool IsSignalled
    {
        get
        {
            var fd = new Libc.PollFd { Fd = _fd.Number, Events = Libc.PollIn };
            return Libc.Poll(&fd, 1, 0) > 0 && (fd.ReturnedEvents & Libc.PollIn) != 0;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _fd.Dispose();
}
