using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>Makes the entropy device for each boot.</summary>
internal sealed class VirtioRngFactory(VirtioRngOptions options, ILogger<VirtioRngDevice> logger) : IVirtioDeviceFactory
{
    public VirtioRngOptions Options => options;

    public IVirtioDevice Create(GuestMemory memory) => new VirtioRngDevice(memory, options, logger);
}
