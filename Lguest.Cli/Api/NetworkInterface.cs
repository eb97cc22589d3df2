using System.Text.Json;
using Lguest.Devices;

namespace Lguest.Cli.Api;

/// <summary>
/// PUT /network-interfaces/{iface_id} (Firecracker's NetworkInterface): a virtio network card on an existing tap,
/// named by <paramref name="HostDevName"/>, which whoever created it has configured. Pre-boot only.
/// </summary>
/// <param name="IfaceId">The id, as in the path.</param>
/// <param name="HostDevName">The tap on the host.</param>
/// <param name="GuestMac">The guest's MAC address; null for a random locally administered one.</param>
/// <param name="RxRateLimiter">Not supported: refused when given.</param>
/// <param name="TxRateLimiter">Not supported: refused when given.</param>
internal sealed record NetworkInterface(string IfaceId, string HostDevName, string? GuestMac = null,
    JsonElement? RxRateLimiter = null, JsonElement? TxRateLimiter = null)
{
    /// <summary>Why the interface cannot be added, or null; <paramref name="mac"/> is the parsed MAC.</summary>
    public string? Validate(out MacAddress? mac)
    {
        mac = null;
        if (RxRateLimiter is not null || TxRateLimiter is not null)
            return "Rate limiters are not supported by lguest.";
        if (HostDevName.Length is 0 or > 15 || HostDevName.Any(c => c <= ' ' || c >= 0x7f || c is '/' or ':'))
            return $"The host_dev_name '{HostDevName}' is not an interface name of 1 to 15 characters.";
        if (GuestMac is not null)
        {
            if (!MacAddress.TryParse(GuestMac, out MacAddress parsed) || parsed.IsMulticast || parsed.IsZero)
                return $"The guest_mac '{GuestMac}' is not a unicast MAC address.";
            mac = parsed;
        }
        // The tap must exist: lguest attaches to it, as Firecracker does (it never creates one for the API).
        if (!Directory.Exists(Path.Combine("/sys/class/net", HostDevName)))
            return $"Open tap device failed: no network interface '{HostDevName}' on the host.";
        return null;
    }
}
