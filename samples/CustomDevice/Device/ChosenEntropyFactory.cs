using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace CustomDevice;

/// <summary>Makes a fresh <see cref="ChosenEntropyDevice"/> for each boot (a reboot gets a new device on the new RAM).</summary>
/// <param name="source">The bytes' source, shared by every boot's device.</param>
/// <param name="logger">The devices' log; null for none.</param>
public sealed class ChosenEntropyFactory(Action<Span<byte>> source, ILogger? logger = null) : IVirtioDeviceFactory
{
    /// <inheritdoc />
    public IVirtioDevice Create(GuestMemory memory) => new ChosenEntropyDevice(memory, source, logger);
}
