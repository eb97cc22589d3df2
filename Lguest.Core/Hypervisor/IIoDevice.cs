namespace Lguest.Hypervisor;

/// <summary>
/// Something the guest reaches with port I/O or MMIO: a UART, the PCI configuration ports, a virtio
/// BAR. The bus calls it with the offset inside the range it was registered at, and the access
/// width is the length of <c>data</c> (1, 2, 4 or 8 bytes). Calls come from vCPU threads; a device
/// registered on several buses or reached by several vCPUs must be safe for that.
/// </summary>
public interface IIoDevice
{
    /// <summary>The guest reads <c>data.Length</c> bytes at <paramref name="offset"/>; fill <paramref name="data"/>.</summary>
    void Read(ulong offset, Span<byte> data);

    /// <summary>The guest writes <paramref name="data"/> at <paramref name="offset"/>.</summary>
    void Write(ulong offset, ReadOnlySpan<byte> data);
}
