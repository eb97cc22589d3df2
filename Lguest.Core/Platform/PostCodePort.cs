using Lguest.Hypervisor;

namespace Lguest.Platform;

/// <summary>
/// Port 0x80, the POST diagnostic port, which Linux writes as an I/O delay (io_delay) thousands of
/// times during boot. It keeps the last code written, so it answers without an unclaimed-port log.
/// </summary>
public sealed class PostCodePort : IIoDevice
{
    /// <summary>The POST code port.</summary>
    public const ushort Port = 0x80;

    /// <summary>The last byte written.</summary>
    public byte LastCode { get; private set; }

    /// <inheritdoc />
    public void Read(ulong offset, Span<byte> data) => data.Fill(LastCode);

    /// <inheritdoc />
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.Length > 0)
            LastCode = data[0];
    }
}
