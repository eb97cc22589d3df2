using Lguest.Hypervisor;

namespace Lguest.Platform;

/// <summary>
/// The lguest launcher's whole keyboard controller: its status port 0x64 reads 1 at any width (output buffer
/// full, input buffer empty: "ready"), as the seed answered; writes are ignored. Linux's i8042 driver polls this
/// port, and all ones would show the input buffer full for ever, so every command would wait out its timeout.
/// Register it at <see cref="Port"/> for <see cref="PortCount"/> ports, so a 16- or 32-bit <c>in</c> from 0x64
/// is answered too; 0x65-0x67 on their own read as nothing there (all ones), as in the seed.
/// </summary>
public sealed class I8042StatusPort : IIoDevice
{
    /// <summary>The status port.</summary>
    public const ushort Port = 0x64;

    /// <summary>The ports a wide access from <see cref="Port"/> covers.</summary>
    public const int PortCount = 4;

    /// <summary>What a read from 0x64 returns: bit 0, output buffer full.</summary>
    public const byte Status = 1;

    /// <inheritdoc />
    public void Read(ulong offset, Span<byte> data)
    {
        if (offset != 0)
        {
            data.Fill(0xff);
            return;
        }
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
