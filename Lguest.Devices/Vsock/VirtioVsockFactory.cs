using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// Makes the socket device for each boot, all on one <see cref="VsockHost"/>: the Unix socket is created at the
/// first boot (a bad path fails the launch before the guest runs) and kept across reboots.
/// </summary>
internal sealed class VirtioVsockFactory(VsockHost host, VirtioVsockOptions options, ILogger<VirtioVsockDevice> logger) : IVirtioDeviceFactory
{
    public VirtioVsockOptions Options => options;

    /// <exception cref="VsockException">The Unix socket cannot be created.</exception>
    public IVirtioDevice Create(GuestMemory memory)
    {
        host.Start();
        return new VirtioVsockDevice(memory, host, options, logger);
    }
}
