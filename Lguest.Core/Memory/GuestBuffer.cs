namespace Lguest.Memory;

/// <summary>
/// A buffer in guest memory named by the guest (a virtqueue descriptor's address and length).
/// Checked against guest RAM when it is created by the virtqueue, and again on every access.
/// </summary>
/// <param name="Address">The buffer's first guest-physical address.</param>
/// <param name="Length">The buffer's length in bytes.</param>
public readonly record struct GuestBuffer(GuestAddress Address, uint Length)
{
    /// <inheritdoc />
    public override string ToString() => $"[{Address}, +0x{Length:x})";
}
