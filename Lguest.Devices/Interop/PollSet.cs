using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// A fixed set of descriptors one worker sleeps on with poll(2): the tap, the queue's notifier, the stop
/// signal. Built once per worker, so each wait costs no allocation. Not thread-safe: one worker owns it.
/// </summary>
internal sealed unsafe class PollSet
{
    private const int Capacity = 4;
    private readonly SafeHandle[] _handles = new SafeHandle[Capacity];
    private readonly short[] _events = new short[Capacity];
    private readonly short[] _returned = new short[Capacity];
    private int _count;

    /// <summary>Adds <paramref name="handle"/>, watched for <paramref name="events"/>; returns its slot.</summary>
    public int Add(SafeHandle handle, short events)
    {
        ArgumentNullException.ThrowIfNull(handle);
        if (_count == Capacity)
            throw new InvalidOperationException($"a poll set holds at most {Capacity} descriptors");
        _handles[_count] = handle;
        _events[_count] = events;
        return _count++;
    }

    /// <summary>Changes the events watched in <paramref name="slot"/> (0: ignore the descriptor).</summary>
    public void Watch(int slot, short events) => _events[slot] = events;

    /// <summary>The events poll reported for <paramref name="slot"/> at the last <see cref="Wait"/>.</summary>
    public short Returned(int slot) => _returned[slot];

    /// <summary>
    /// Sleeps until a watched event happens or <paramref name="timeoutMilliseconds"/> passes (-1: no limit);
    /// returns false on timeout. EINTR restarts the wait.
    /// </summary>
    /// <exception cref="IOException">poll failed.</exception>
    public bool Wait(int timeoutMilliseconds = -1)
    {
        NetLibc.PollFd* fds = stackalloc NetLibc.PollFd[Capacity];
        int added = 0;
        try
        {
            for (; added < _count; added++)
            {
                bool ok = false;
                _handles[added].DangerousAddRef(ref ok);
                fds[added] = new NetLibc.PollFd
                {
                    // A negative fd makes poll skip the entry: that is how a slot is switched off.
                    Fd = _events[added] == 0 ? -1 : (int)_handles[added].DangerousGetHandle(),
                    Events = _events[added],
                };
            }
            while (true)
            {
                // Safety: fds holds _count initialised entries on this stack frame; every fd is kept open by AddRef.
                int rc = NetLibc.Poll(fds, (nuint)_count, timeoutMilliseconds);
                if (rc >= 0)
                {
                    for (int i = 0; i < _count; i++)
                        _returned[i] = fds[i].ReturnedEvents;
                    return rc > 0;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno != NetLibc.EINTR)
                    throw new IOException($"poll failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            }
        }
        finally
        {
            for (int i = 0; i < added; i++)
                _handles[i].DangerousRelease();
        }
    }
}
