using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// Makes the network card for each boot. The tap is created and its host end configured at the first
/// boot (so a missing bridge or a refused /dev/net/tun fails the launch before the guest runs), kept
/// across reboots with the same MAC address, and removed when the container is disposed. A failure
/// half-way removes the tap it created: none is left behind.
/// </summary>
internal sealed class VirtioNetFactory(VirtioNetOptions options, ILogger<VirtioNetDevice> logger) : IVirtioDeviceFactory, IDisposable
{
    private readonly Lock _lock = new();
    private readonly MacAddress _mac = options.Mac ?? options.Tunnet?.Mac ?? MacAddress.CreateRandom();
    private TapDevice? _tap;
    private int _mtu;

    public VirtioNetOptions Options => options;

    /// <summary>The guest's MAC address, fixed for the factory's lifetime.</summary>
    public MacAddress Mac => _mac;

    /// <exception cref="TapException">The tap cannot be created or configured.</exception>
    public IVirtioDevice Create(GuestMemory memory)
    {
        lock (_lock)
        {
            if (_tap is null)
            {
                (_tap, _mtu) = Open(options);
                if (logger.IsEnabled(LogLevel.Information))
                    logger.TapReady(options.Name ?? "net", _tap.Name, Describe(options.Tunnet), _mtu, _mac);
            }
            return new VirtioNetDevice(memory, _tap, _mac, _mtu, options, logger);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _tap?.Dispose();
            _tap = null;
        }
    }

    /// <summary>Creates the tap and configures its host end as the options say; on failure nothing is left.</summary>
    /// <exception cref="TapException">The host refused.</exception>
    internal static (TapDevice Tap, int Mtu) Open(VirtioNetOptions options)
    {
        TapDevice tap = TapDevice.Create(options.TapName);
        try
        {
            TunnetSpec? spec = options.Tunnet;
            if (spec is not null)
            {
                if (spec.IsBridge)
                    tap.AttachToBridge(spec.Bridge);
                else
                    tap.SetAddress(spec.Address, spec.PrefixLength);
            }
            tap.BringUp();
            return (tap, tap.Mtu);
        }
        catch
        {
            tap.Dispose();
            throw;
        }
    }

    private static string Describe(TunnetSpec? spec) => spec switch
    {
        null => "up",
        { IsBridge: true } => $"in bridge {spec.Bridge}",
        _ => spec.PrefixLength is int p ? $"at {spec.Address}/{p}" : $"at {spec.Address}",
    };
}
