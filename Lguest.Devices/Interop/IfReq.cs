using System.Runtime.InteropServices;
using System.Text;

namespace Lguest.Devices.Interop;

/// <summary>
/// struct ifreq, &lt;net/if.h&gt; (40 bytes on x86_64): an interface name and one member of a union,
/// which each ioctl reads or fills. Checked against the C header by a test.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal unsafe struct IfReq
{
    /// <summary>sizeof(struct ifreq).</summary>
    public const int Size = 40;

    /// <summary>IFNAMSIZ: the name field's size, terminating NUL included.</summary>
    public const int NameSize = 16;

    /// <summary>ifr_name.</summary>
    [FieldOffset(0)]
    public fixed byte Name[NameSize];

    /// <summary>ifr_flags (TUNSETIFF's IFF_TAP..., SIOCGIFFLAGS' IFF_UP...).</summary>
    [FieldOffset(16)]
    public short Flags;

    /// <summary>ifr_ifindex and ifr_mtu share this slot.</summary>
    [FieldOffset(16)]
    public int Value;

    /// <summary>ifr_addr / ifr_netmask, as an AF_INET address.</summary>
    [FieldOffset(16)]
    public SockAddrIn Address;

    /// <summary>An ifreq naming <paramref name="name"/> (at most IFNAMSIZ-1 bytes), the rest zero.</summary>
    public static IfReq For(string name)
    {
        var request = new IfReq();
        int length = Encoding.ASCII.GetByteCount(name);
        if (length >= NameSize)
            throw new ArgumentException($"interface name '{name}' is longer than {NameSize - 1} characters", nameof(name));
        Encoding.ASCII.GetBytes(name, new Span<byte>(request.Name, NameSize));
        return request;
    }

    /// <summary>The name the kernel wrote back (TUNSETIFF fills in "tap%d").</summary>
    public readonly string GetName()
    {
        fixed (byte* name = Name)
        {
            // Safety: the field is NameSize bytes inside this struct; the kernel NUL-terminates it.
            var span = new ReadOnlySpan<byte>(name, NameSize);
            int end = span.IndexOf((byte)0);
            return Encoding.ASCII.GetString(end < 0 ? span : span[..end]);
        }
    }
}

/// <summary>struct sockaddr_in, &lt;netinet/in.h&gt; (16 bytes): port and address in network byte order.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct SockAddrIn
{
    public ushort Family;
    public ushort Port;
    public uint Address; // s_addr, network byte order: the octets as they are written, first octet first
}
