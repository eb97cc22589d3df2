using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Lguest.Devices.Interop;

namespace Lguest.Devices;

// The host side of the tap, configured as the seed does: interface ioctls on an AF_INET socket
// (SIOCSIFADDR, SIOCSIFNETMASK, SIOCSIFFLAGS, SIOCBRADDIF), no shelling out to ip(8).
internal sealed partial class TapDevice
{
    /// <summary>
    /// Gives the host end <paramref name="address"/> (SIOCSIFADDR), with the netmask of
    /// <paramref name="prefixLength"/> when given (otherwise the kernel derives the classful one, as in
    /// the seed).
    /// </summary>
    /// <exception cref="TapException">The kernel refused.</exception>
    public unsafe void SetAddress(IPAddress address, int? prefixLength = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException($"{address} is not an IPv4 address", nameof(address));
        using NetDescriptor socket = OpenControlSocket();
        IfReq request = IfReq.For(Name);
        request.Address = ToSockAddr(address);
        // Safety: request is a local ifreq; the ioctls read (and may write) only its 40 bytes.
        if (NetLibc.Ioctl(socket, NetLibc.SiocSifAddr, &request) < 0)
            throw Failed(Name, $"setting address {address}", Marshal.GetLastPInvokeError());
        if (prefixLength is int prefix)
        {
            uint mask = prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
            request = IfReq.For(Name);
            Span<byte> maskBytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(maskBytes, mask);
            request.Address = ToSockAddr(maskBytes);
            if (NetLibc.Ioctl(socket, NetLibc.SiocSifNetmask, &request) < 0)
                throw Failed(Name, $"setting netmask /{prefix}", Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>Adds the tap to the existing bridge <paramref name="bridge"/> (SIOCBRADDIF).</summary>
    /// <exception cref="TapException">The bridge does not exist, is not a bridge, or the kernel refused.</exception>
    public unsafe void AttachToBridge(string bridge)
    {
        ArgumentException.ThrowIfNullOrEmpty(bridge);
        using NetDescriptor socket = OpenControlSocket();
        IfReq request;
        try
        {
            request = IfReq.For(bridge);
        }
        catch (ArgumentException e)
        {
            throw new TapException($"bridge '{bridge}': {e.Message}");
        }
        request.Value = InterfaceIndex;
        // Safety: request is a local ifreq naming the bridge, with the tap's index in ifr_ifindex.
        if (NetLibc.Ioctl(socket, NetLibc.SiocBrAddIf, &request) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new TapException(errno switch
            {
                NetLibc.ENODEV => $"bridge '{bridge}' does not exist",
                NetLibc.EOPNOTSUPP or NetLibc.EINVAL => $"'{bridge}' is not a bridge",
                NetLibc.EPERM or NetLibc.EACCES => $"adding {Name} to bridge '{bridge}': permission denied (needs CAP_NET_ADMIN)",
                _ => $"adding {Name} to bridge '{bridge}': {Marshal.GetPInvokeErrorMessage(errno)}",
            }, errno);
        }
    }

    /// <summary>Brings the host end up (IFF_UP through SIOCGIFFLAGS/SIOCSIFFLAGS), so frames flow.</summary>
    /// <exception cref="TapException">The kernel refused.</exception>
    public unsafe void BringUp()
    {
        using NetDescriptor socket = OpenControlSocket();
        IfReq request = IfReq.For(Name);
        // Safety: request is a local ifreq; SIOCGIFFLAGS fills ifr_flags, SIOCSIFFLAGS reads it.
        if (NetLibc.Ioctl(socket, NetLibc.SiocGifFlags, &request) < 0)
            throw Failed(Name, "reading interface flags", Marshal.GetLastPInvokeError());
        request.Flags |= NetLibc.IffUp;
        if (NetLibc.Ioctl(socket, NetLibc.SiocSifFlags, &request) < 0)
            throw Failed(Name, "bringing the interface up", Marshal.GetLastPInvokeError());
    }

    /// <summary>The host end's MTU (SIOCGIFMTU): the largest frame payload the host sends without TSO.</summary>
    public unsafe int Mtu
    {
        get
        {
            using NetDescriptor socket = OpenControlSocket();
            IfReq request = IfReq.For(Name);
            // Safety: SIOCGIFMTU fills ifr_mtu of the local ifreq.
            if (NetLibc.Ioctl(socket, NetLibc.SiocGifMtu, &request) < 0)
                throw Failed(Name, "reading the MTU", Marshal.GetLastPInvokeError());
            return request.Value;
        }
    }

    /// <summary>The interface index (SIOCGIFINDEX).</summary>
    public unsafe int InterfaceIndex
    {
        get
        {
            using NetDescriptor socket = OpenControlSocket();
            IfReq request = IfReq.For(Name);
            // Safety: SIOCGIFINDEX fills ifr_ifindex of the local ifreq.
            if (NetLibc.Ioctl(socket, NetLibc.SiocGifIndex, &request) < 0)
                throw Failed(Name, "reading the interface index", Marshal.GetLastPInvokeError());
            return request.Value;
        }
    }

    // Any socket will do for interface ioctls; it must be in the tap's namespace, which holds for a
    // socket opened by the thread that created the tap.
    private static NetDescriptor OpenControlSocket()
    {
        int fd = NetLibc.Socket(NetLibc.AfInet, NetLibc.SockDgram | NetLibc.SockCloexec, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new TapException($"opening an AF_INET socket for interface configuration: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
        return new NetDescriptor(fd);
    }

    private static SockAddrIn ToSockAddr(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return ToSockAddr(bytes);
    }

    // s_addr is in network order: the octets in memory as written, whatever the host's endianness.
    private static SockAddrIn ToSockAddr(ReadOnlySpan<byte> octets) =>
        new() { Family = NetLibc.AfInet, Address = MemoryMarshal.Read<uint>(octets) };
}
