using Lguest.Hypervisor;

namespace Lguest.Tests.Support;

/// <summary>An <see cref="IMsiRoute"/> that keeps its message and every message it sent, as KVM's routing would deliver them.</summary>
internal sealed class RecordingMsiRoute : IMsiRoute
{
    private readonly Lock _lock = new();
    private readonly List<(ulong Address, uint Data)> _sent = [];

    /// <summary>The message last given to <see cref="Update"/>, or null before the first.</summary>
    public (ulong Address, uint Data)? Message { get; private set; }

    /// <summary>How many times the backend was reprogrammed.</summary>
    public int Updates { get; private set; }

    /// <summary>Signals that found no message programmed (and so sent nothing).</summary>
    public int Unrouted { get; private set; }

    public bool IsDisposed { get; private set; }

    /// <summary>The messages sent, in order.</summary>
    public IReadOnlyList<(ulong Address, uint Data)> Sent
    {
        get
        {
            lock (_lock)
                return [.. _sent];
        }
    }

    public void Update(ulong address, uint data)
    {
        lock (_lock)
        {
            Message = (address, data);
            Updates++;
        }
    }

    public void Signal()
    {
        lock (_lock)
        {
            if (Message is { } m)
                _sent.Add(m);
            else
                Unrouted++;
        }
    }

    public void Dispose() => IsDisposed = true;
}
