using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Machine;

/// <summary>
/// Puts a virtio device on PCI bus 0 for each boot: the device an <see cref="IVirtioDeviceFactory"/>
/// makes for the boot's memory, behind its own <see cref="VirtioPciTransport"/>, in the next free slot.
/// The transport (and through it the device's workers) is stopped when the boot ends, after the vCPUs, and paused
/// with the machine.
/// </summary>
/// <param name="device">Makes the device.</param>
/// <param name="options">
/// The transport's bad-driver policy; null for the launcher's (<see cref="PlatformContext.VirtioTransport"/>:
/// the device alone suffers, or the run ends under <see cref="LauncherOptions.StrictDrivers"/>).
/// </param>
public sealed class VirtioPciDeviceFactory(IVirtioDeviceFactory device, VirtioPciTransportOptions? options = null) : IPlatformDeviceFactory
{
    private readonly IVirtioDeviceFactory _device = device ?? throw new ArgumentNullException(nameof(device));

    /// <inheritdoc />
    public void Create(PlatformContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        IVirtioDevice created = _device.Create(context.Memory);
        var transport = new VirtioPciTransport(created, context.Machine, options ?? context.VirtioTransport,
            context.LoggerFactory.CreateLogger<VirtioPciTransport>());
        context.DisposeAtShutdown(transport);
        context.AddPausable(transport);
        int slot = context.PciBus.Add(transport);
        // By slot, which follows the order devices are added in: the same command line gives the same names.
        context.AddSnapshotState($"pci/{slot}/config", transport.CaptureConfiguration, d => transport.RestoreConfiguration(d.Span));
        if (transport.Msix is { } msix)
            context.AddSnapshotState($"pci/{slot}/msix", () => msix.CaptureState().Encode(), d => msix.RestoreState(Pci.MsixState.Decode(d)));
        context.AddSnapshotState($"pci/{slot}/virtio", () => transport.CaptureState().Encode(), d => transport.RestoreState(VirtioTransportState.Decode(d)));
    }
}
