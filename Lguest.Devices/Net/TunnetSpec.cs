using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace Lguest.Devices;

/// <summary>
/// One <c>--tunnet</c> argument, as in the seeds: <c>&lt;ipaddr&gt;[/&lt;prefix&gt;][:&lt;macaddr&gt;]</c> creates a tap
/// and gives its host end that IPv4 address, or <c>bridge:&lt;bridgename&gt;[:&lt;macaddr&gt;]</c> adds the tap to
/// an existing bridge. The MAC address is the guest's; without one the device makes up a
/// locally-administered address. (The optional /prefix sets the host end's netmask; the seed left the
/// kernel's classful default, which is still what happens without it.)
/// </summary>
public sealed record TunnetSpec
{
    /// <summary>The prefix that selects bridge mode.</summary>
    public const string BridgePrefix = "bridge:";

    private TunnetSpec(IPAddress? address, int? prefixLength, string? bridge, MacAddress? mac)
    {
        Address = address;
        PrefixLength = prefixLength;
        Bridge = bridge;
        Mac = mac;
    }

    /// <summary>The host end's IPv4 address; null in bridge mode.</summary>
    public IPAddress? Address { get; }

    /// <summary>The host end's prefix length when one was given; null for the kernel's default netmask.</summary>
    public int? PrefixLength { get; }

    /// <summary>The bridge to add the tap to; null in address mode.</summary>
    public string? Bridge { get; }

    /// <summary>The guest's MAC address, or null to make one up.</summary>
    public MacAddress? Mac { get; }

    /// <summary>Whether the tap joins a bridge rather than getting an address.</summary>
    [MemberNotNullWhen(true, nameof(Bridge))]
    [MemberNotNullWhen(false, nameof(Address))]
    public bool IsBridge => Bridge is not null;

    /// <summary>An address-mode spec (for code that builds options without a command line).</summary>
    public static TunnetSpec ForAddress(IPAddress address, int? prefixLength = null, MacAddress? mac = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        return Parse(Format(address, prefixLength, null, mac));
    }

    /// <summary>A bridge-mode spec.</summary>
    public static TunnetSpec ForBridge(string bridge, MacAddress? mac = null)
    {
        ArgumentNullException.ThrowIfNull(bridge);
        return Parse(Format(null, null, bridge, mac));
    }

    /// <summary>Parses one <c>--tunnet</c> value.</summary>
    /// <exception cref="FormatException">The value is malformed; the message says what is wrong in one line.</exception>
    public static TunnetSpec Parse(string text) =>
        TryParse(text, out TunnetSpec? spec, out string? error) ? spec : throw new FormatException(error);

    /// <summary>Parses one <c>--tunnet</c> value; on failure <paramref name="error"/> says what is wrong in one line.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out TunnetSpec? spec, [NotNullWhen(false)] out string? error)
    {
        spec = null;
        error = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "needs <ipaddr>[:<macaddr>] or bridge:<bridgename>[:<macaddr>]";
            return false;
        }

        bool bridging = text.StartsWith(BridgePrefix, StringComparison.Ordinal);
        string rest = bridging ? text[BridgePrefix.Length..] : text;
        // The MAC address follows the first colon after the address or bridge name (as in the seed).
        int colon = rest.IndexOf(':', StringComparison.Ordinal);
        string head = colon < 0 ? rest : rest[..colon];
        if (bridging)
        {
            if (!IsInterfaceName(head))
            {
                error = head.Length == 0 ? "bridge: needs a bridge name" : $"'{head}' is not an interface name";
                return false;
            }
            if (!TryParseMac(rest, colon, out MacAddress? bridgeMac, out error))
                return false;
            spec = new TunnetSpec(null, null, head, bridgeMac);
            return true;
        }

        int? prefix = null;
        int slash = head.IndexOf('/', StringComparison.Ordinal);
        string addressText = slash < 0 ? head : head[..slash];
        if (slash >= 0)
        {
            string prefixText = head[(slash + 1)..];
            if (prefixText.Length is < 1 or > 2 || !prefixText.All(char.IsAsciiDigit)
                || int.Parse(prefixText, CultureInfo.InvariantCulture) is < 1 or > 32)
            {
                error = $"'/{prefixText}' is not a prefix length from 1 to 32";
                return false;
            }
            prefix = int.Parse(prefixText, CultureInfo.InvariantCulture);
        }
        if (!TryParseIPv4(addressText, out IPAddress? address))
        {
            error = $"'{addressText}' is not an IPv4 address (a.b.c.d)";
            return false;
        }
        byte first = address.GetAddressBytes()[0];
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.Broadcast) || first == 127 || first >= 224)
        {
            error = $"'{addressText}' cannot be an interface's address";
            return false;
        }
        if (!TryParseMac(rest, colon, out MacAddress? mac, out error))
            return false;
        spec = new TunnetSpec(address, prefix, null, mac);
        return true;
    }

    // The MAC address after the first colon, if there is one.
    private static bool TryParseMac(string rest, int colon, out MacAddress? mac, [NotNullWhen(false)] out string? error)
    {
        mac = null;
        error = null;
        if (colon < 0)
            return true;
        string macText = rest[(colon + 1)..];
        if (!MacAddress.TryParse(macText, out MacAddress parsed))
        {
            error = $"'{macText}' is not a MAC address (xx:xx:xx:xx:xx:xx)";
            return false;
        }
        if (parsed.IsMulticast || parsed.IsZero)
        {
            error = $"'{macText}' cannot be a card's MAC address ({(parsed.IsZero ? "all zero" : "a multicast address")})";
            return false;
        }
        mac = parsed;
        return true;
    }

    /// <summary>The spec as it would be written on the command line.</summary>
    public override string ToString() => Format(Address, PrefixLength, Bridge, Mac);

    private static string Format(IPAddress? address, int? prefix, string? bridge, MacAddress? mac)
    {
        string head = bridge is not null ? BridgePrefix + bridge
            : prefix is int p ? string.Create(CultureInfo.InvariantCulture, $"{address}/{p}") : address!.ToString();
        return mac is MacAddress m ? $"{head}:{m}" : head;
    }

    // Exactly four decimal octets: IPAddress.TryParse also takes "10", "0x0a.1" and "10.1", which a
    // typo should not silently turn into another address.
    private static bool TryParseIPv4(string text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        string[] parts = text.Split('.');
        if (parts.Length != 4)
            return false;
        var octets = new byte[4];
        for (int i = 0; i < 4; i++)
        {
            string part = parts[i];
            if (part.Length is < 1 or > 3 || !part.All(char.IsAsciiDigit)
                || !byte.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out octets[i]))
                return false;
        }
        address = new IPAddress(octets);
        return true;
    }

    // A Linux interface name (dev_valid_name): 1 to IFNAMSIZ-1 bytes, not "." or "..", no '/', ':' or space.
    private static bool IsInterfaceName(string name) =>
        name.Length is >= 1 and <= 15 && name is not "." and not ".."
        && name.All(c => c > ' ' && c < 0x7f && c != '/' && c != ':');
}
