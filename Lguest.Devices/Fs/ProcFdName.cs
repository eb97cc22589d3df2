using Lguest.Devices.Interop;

namespace Lguest.Devices;

/// <summary>
/// The name "N" under /proc/self/fd of one of our own descriptors, for the calls that have no AT_EMPTY_PATH
/// form (reopening an O_PATH handle for I/O, fchmodat, linkat of a non-symlink). Holds a reference on the
/// descriptor while the name is in use, so a FORGET on another queue cannot close N and let the kernel give
/// the number to another file in between. The name is ours, never the guest's: the magic link it follows
/// leads to the very inode the descriptor pins, inside the share.
/// </summary>
internal ref struct ProcFdName
{
    private readonly FsDescriptor _descriptor;
    private bool _referenced;

    /// <summary>Formats the name into <paramref name="buffer"/> (at least 12 bytes).</summary>
    /// <exception cref="ObjectDisposedException">The descriptor was closed (the node forgotten, the handle released).</exception>
    public ProcFdName(FsDescriptor descriptor, Span<byte> buffer)
    {
        _descriptor = descriptor;
        descriptor.DangerousAddRef(ref _referenced);
        descriptor.Number.TryFormat(buffer, out int length, default, System.Globalization.CultureInfo.InvariantCulture);
        buffer[length] = 0;
        Name = buffer[..(length + 1)];
    }

    /// <summary>The NUL-terminated name.</summary>
    public ReadOnlySpan<byte> Name { get; }

    public void Dispose()
    {
        if (_referenced)
        {
            _referenced = false;
            _descriptor.DangerousRelease();
        }
    }
}
