using Lguest.Hypervisor;

namespace Lguest.Tests.Support;

/// <summary>
/// An <see cref="IIoDevice"/> that records every access (Moq cannot match span arguments) and
/// answers reads with a fixed byte.
/// </summary>
internal sealed class RecordingIoDevice(byte readValue = 0x5a) : IIoDevice
{
    public List<(string Kind, ulong Offset, byte[] Data)> Accesses { get; } = [];

    public void Read(ulong offset, Span<byte> data)
    {
        data.Fill(readValue);
        Accesses.Add(("read", offset, data.ToArray()));
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data) => Accesses.Add(("write", offset, data.ToArray()));
}
