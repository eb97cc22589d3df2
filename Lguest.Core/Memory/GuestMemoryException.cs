namespace Lguest.Memory;

/// <summary>
/// An access to guest memory outside guest RAM: past the end, inside a hole, across the edge of a
/// region, or with a length that wraps. Usually the guest's fault; the caller decides whom to blame.
/// </summary>
public sealed class GuestMemoryException : LguestException
{
    internal GuestMemoryException(GuestAddress address, ulong length, string? reason = null)
        : base($"guest memory access [{address}, +0x{length:x}) is outside guest RAM" + (reason is null ? "" : $": {reason}"))
    {
        Address = address;
        Length = length;
    }

    internal GuestMemoryException(string message) : base(message) { }

    /// <summary>The first guest-physical address of the refused access.</summary>
    public GuestAddress Address { get; }

    /// <summary>The length of the refused access in bytes.</summary>
    public ulong Length { get; }
}
