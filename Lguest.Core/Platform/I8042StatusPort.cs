using Lguest.Hypervisor;

namespace Lguest.Platform;

/// <summary>
/// The lguest launcher's whole keyboard controller: its status port 0x64 reads 1 at any width (output buffer
/// full, input buffer empty: "ready"), as the seed answered; writes are ignored. Linux's i8042 driver polls this
/// port, and all ones would show the input buffer full for ever, so every command would wait out its timeout.
/// </summary>
public sealed class I8042StatusPort : IIoDevice
{
    /// <summary>The status port.</summary>
    public const ushort Port = 0x64;

    /// <summary>What every read returns: bit 0, output buffer full.</summary>
    public const byte Status = 1;

    /// <inheritdoc />
    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        if (!data.IsEmpty)
            data[0] = Status;
    }

    /// <inheritdoc />
    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        // No controller behind it: commands (the reset pulse 0xFE included) go nowhere, as in the seed.
    }
}
