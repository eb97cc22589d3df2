using System.Diagnostics.CodeAnalysis;
using Lguest.Hypervisor;
using Lguest.Interop;
using Lguest.Memory;

namespace Lguest.DevLguest;

/// <summary>
/// The historical backend: guests on /dev/lguest, the paravirtualized hypervisor of Linux 2.6.23 to 4.13 on
/// 32-bit x86 hosts. The guest is an i386 Linux kernel booted for the lguest platform (hardware_subarch 1)
/// at its 32-bit entry, with RAM from guest-physical 0 and the device window right above it
/// (<see cref="GuestMemoryLayout.Flat"/>). The launcher emulates the port I/O and MMIO instructions the Host
/// hands over, so the same buses, PCI host bridge and virtio-pci devices serve this backend and KVM.
/// </summary>
/// <remarks>
/// /dev/lguest left Linux in 4.14 and only ever existed on i386 kernels, which run only 32-bit processes:
/// the requests are built in the i386 ABI (32-bit words), and a guest memory mapping above 4 GiB is
/// refused. Each <see cref="CreateVirtualMachine"/> uses its own open of the device (the Host allows one guest
/// per open file), so a rebooting launcher simply creates a new machine.
/// </remarks>
public sealed class LguestHypervisor : IHypervisor, IDisposable
{
    /// <summary>The device node.</summary>
    public const string DefaultDevicePath = LguestDeviceFile.DefaultPath;

    /// <summary>DEVICE_PAGES of the seed: the pages above RAM kept for devices (their BARs here).</summary>
    public const int DevicePages = 256;

    private readonly Func<ILguestDevice> _open;
    private readonly Lock _lock = new();
    private ILguestDevice? _firstDevice;

    internal LguestHypervisor(Func<ILguestDevice> open, ILguestDevice? alreadyOpen = null)
    {
        _open = open;
        _firstDevice = alreadyOpen;
    }

    /// <inheritdoc />
    public string Name => "lguest";

    /// <summary>
    /// Opens /dev/lguest (or <paramref name="devicePath"/>). False, with the reason, on a host without it, which
    /// today is every host.
    /// </summary>
    internal static bool TryOpen(string devicePath, [NotNullWhen(true)] out LguestHypervisor? hypervisor,
        [NotNullWhen(false)] out HostUnavailableException? unavailable)
    {
        ArgumentNullException.ThrowIfNull(devicePath);
        if (!LguestDeviceFile.TryOpen(devicePath, out LguestDeviceFile? file, out int errno))
        {
            hypervisor = null;
            string message = errno switch
            {
                Libc.ENOENT => $"no {devicePath} on this host: it left Linux in 4.14, and before that existed only on 32-bit x86 kernels with the lg module loaded",
                Libc.EACCES or Libc.EPERM => $"cannot open {devicePath}: permission denied (the launcher needs root)",
                Libc.ENXIO or Libc.ENODEV => $"cannot open {devicePath}: the device has no driver (is the lg module loaded?)",
                _ => $"cannot open {devicePath}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}",
            };
            unavailable = new HostUnavailableException("lguest", devicePath, HostUnavailableException.ReasonOf(errno), message, errno);
            return false;
        }
        hypervisor = new LguestHypervisor(() => Reopen(devicePath), file);
        unavailable = null;
        return true;
    }

    /// <summary>Opens /dev/lguest (or <paramref name="devicePath"/>).</summary>
    /// <exception cref="HostUnavailableException">The device cannot be opened; the reason says why.</exception>
    public static LguestHypervisor Open(string devicePath = DefaultDevicePath)
    {
        if (!TryOpen(devicePath, out LguestHypervisor? hypervisor, out HostUnavailableException? unavailable))
            throw unavailable;
        return hypervisor;
    }

    /// <summary>
    /// The layout this backend runs: <paramref name="ramBytes"/> of RAM from guest-physical 0 and
    /// <see cref="DevicePages"/> pages of device window right above it, as the seed laid memory out.
    /// </summary>
    public static GuestMemoryLayout CreateLayout(ulong ramBytes) =>
        GuestMemoryLayout.Flat(ramBytes, DevicePages * GuestMemoryLayout.PageSize);

    /// <inheritdoc />
    /// <exception cref="HypervisorException">
    /// The layout is not lguest's (one RAM region at 0, the device window right above, all below 4 GiB), or the
    /// memory cannot be named in the i386 ABI, or the device cannot be opened again.
    /// </exception>
    public IVirtualMachine CreateVirtualMachine(GuestMemory memory, IoBus portBus, IoBus mmioBus)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(portBus);
        ArgumentNullException.ThrowIfNull(mmioBus);
        ILguestDevice device;
        lock (_lock)
        {
            device = _firstDevice ?? _open();
            _firstDevice = null;
        }
        try
        {
            return new LguestVirtualMachine(device, memory, portBus, mmioBus);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>Closes the device if no machine took it.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _firstDevice?.Dispose();
            _firstDevice = null;
        }
    }

    private static LguestDeviceFile Reopen(string devicePath)
    {
        if (!LguestDeviceFile.TryOpen(devicePath, out LguestDeviceFile? file, out int errno))
            throw HypervisorException.FromErrno($"open {devicePath}", errno);
        return file;
    }
}
