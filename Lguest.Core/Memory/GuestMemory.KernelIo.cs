namespace Lguest.Memory;

// Guest buffers handed to I/O the kernel performs after the call returns (io_uring): the only place a
// device gets a raw address inside guest memory, and only for a checked buffer.
public sealed unsafe partial class GuestMemory
{
    /// <summary>
    /// The host address of <paramref name="buffer"/>, checked to lie inside one RAM region, for I/O the
    /// kernel performs asynchronously into or out of guest memory (an io_uring request's iovec). The
    /// address stays valid until this memory is disposed: the caller must see to it that no such I/O is
    /// still in flight then (a device waits for its requests when it is reset, which comes first).
    /// </summary>
    /// <exception cref="GuestMemoryException">Any part of the buffer is outside guest RAM.</exception>
    public nint GetHostAddress(GuestBuffer buffer) => (nint)Translate(buffer.Address, buffer.Length);
}
