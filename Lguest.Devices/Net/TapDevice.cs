using System.Runtime.InteropServices;
using Lguest.Devices.Interop;

namespace Lguest.Devices;

/// <summary>
/// A tap interface from /dev/net/tun: the host's end of a guest's network card. Opened non-blocking,
/// as IFF_TAP | IFF_NO_PI | IFF_VNET_HDR with a 12-byte header (struct virtio_net_hdr_v1), so every
/// frame read or written carries the virtio 1.x net header and the guest's offloads pass straight
/// through. The tap lives as long as this object: it is never made persistent, so disposing it (or
/// the process dying) removes an interface this process created.
/// </summary>
/// <remarks>
/// The tap belongs to the network namespace of the thread that creates it, and keeps it: a thread
/// that joined another namespace with setns(2) can create the tap there and any thread can then use it.
/// </remarks>
internal sealed partial class TapDevice : IDisposable
{
    /// <summary>The clone device.</summary>
    public const string TunPath = "/dev/net/tun";

    /// <summary>The kernel's name pattern for a fresh tap.</summary>
    public const string DefaultNamePattern = "tap%d";

    private readonly NetDescriptor _fd;

    private TapDevice(NetDescriptor fd, string name)
    {
        _fd = fd;
        Name = name;
    }

    /// <summary>The interface name the kernel gave the tap ("tap0").</summary>
    public string Name { get; }

    /// <summary>The tap's descriptor, non-blocking, for readv/writev of whole frames with their header.</summary>
    public SafeHandle Handle => _fd;

    /// <summary>
    /// Creates a tap (or attaches to the existing persistent tap <paramref name="name"/>, which is how an
    /// unprivileged user is handed one) with the virtio 1.x header and no offloads yet.
    /// </summary>
    /// <param name="name">The interface name, or a pattern with %d; null for "tap%d".</param>
    /// <exception cref="TapException">/dev/net/tun is missing or refused, or the tap cannot be set up.</exception>
    public static unsafe TapDevice Create(string? name = null)
    {
        name ??= DefaultNamePattern;
        IfReq request;
        try
        {
            request = IfReq.For(name);
        }
        catch (ArgumentException e)
        {
            throw new TapException($"tap name '{name}': {e.Message}");
        }

        int fd = NetLibc.Open(TunPath, NetLibc.ORdwr | NetLibc.ONonblock | NetLibc.OCloexec);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new TapException(errno switch
            {
                NetLibc.ENOENT or NetLibc.ENODEV or NetLibc.ENXIO => $"{TunPath} does not exist (is the tun module loaded?)",
                NetLibc.EACCES or NetLibc.EPERM => $"{TunPath}: permission denied (networking needs root or CAP_NET_ADMIN)",
                _ => $"{TunPath}: {Marshal.GetPInvokeErrorMessage(errno)}",
            }, errno, tunMissing: errno is NetLibc.ENOENT or NetLibc.ENODEV or NetLibc.ENXIO);
        }
        var descriptor = new NetDescriptor(fd);
        try
        {
            request.Flags = NetLibc.IffTap | NetLibc.IffNoPi | NetLibc.IffVnetHdr;
            // Safety: request is a local struct of the size TUNSETIFF reads and writes.
            if (NetLibc.Ioctl(descriptor, NetLibc.TunSetIff, &request) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new TapException(errno switch
                {
                    NetLibc.EPERM or NetLibc.EACCES => $"creating tap '{name}': permission denied (networking needs root or CAP_NET_ADMIN)",
                    NetLibc.EBUSY => $"creating tap '{name}': the interface is in use",
                    NetLibc.EINVAL => $"creating tap '{name}': the name belongs to an interface that is not a tap with a virtio header",
                    _ => $"creating tap '{name}': {Marshal.GetPInvokeErrorMessage(errno)}",
                }, errno);
            }
            var tap = new TapDevice(descriptor, request.GetName());
            // The virtio 1.x header (virtio_net_hdr_v1, with num_buffers) whatever the guest negotiates,
            // virtio 1.2 §5.1.6; the kernel's default is the legacy 10 bytes.
            int headerSize = VirtioNetHeader.Size;
            if (NetLibc.Ioctl(descriptor, NetLibc.TunSetVnetHdrSz, &headerSize) < 0)
                throw Failed(tap.Name, "TUNSETVNETHDRSZ", Marshal.GetLastPInvokeError());
            tap.SetOffloads(TunOffloads.None);
            return tap;
        }
        catch
        {
            descriptor.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Takes <paramref name="fd"/>, a non-blocking descriptor that takes a whole frame with its header per write as a
    /// tap does, for a transmitter to write to: in tests, one end of a datagram socket pair, whose other end can leave
    /// the queue full at will (a real tap's is full only under the host's load). Closed with this object.
    /// </summary>
    internal static TapDevice Adopt(int fd, string name) => new(new NetDescriptor(fd), name);

    /// <summary>
    /// TUNSETOFFLOAD: what the host may send the guest unfinished (partial checksums, TSO), which must
    /// be exactly what the guest accepted (VIRTIO_NET_F_GUEST_*).
    /// </summary>
    /// <exception cref="TapException">The kernel refused the combination.</exception>
    public void SetOffloads(TunOffloads offloads)
    {
        if (NetLibc.Ioctl(_fd, NetLibc.TunSetOffload, (nuint)(uint)offloads) < 0)
            throw Failed(Name, $"TUNSETOFFLOAD 0x{(uint)offloads:x}", Marshal.GetLastPInvokeError());
    }

    /// <summary>The header size the tap uses (TUNGETVNETHDRSZ): 12 once created.</summary>
    public unsafe int VnetHeaderSize
    {
        get
        {
            int size;
            // Safety: TUNGETVNETHDRSZ writes one int into the local.
            if (NetLibc.Ioctl(_fd, NetLibc.TunGetVnetHdrSz, &size) < 0)
                throw Failed(Name, "TUNGETVNETHDRSZ", Marshal.GetLastPInvokeError());
            return size;
        }
    }

    /// <summary>The IFF_* flags the tap was created with (TUNGETIFF).</summary>
    public unsafe short Flags
    {
        get
        {
            var request = new IfReq();
            // Safety: TUNGETIFF fills the local ifreq.
            if (NetLibc.Ioctl(_fd, NetLibc.TunGetIff, &request) < 0)
                throw Failed(Name, "TUNGETIFF", Marshal.GetLastPInvokeError());
            return request.Flags;
        }
    }

    /// <summary>Closes the tap; the kernel removes the interface if this process created it.</summary>
    public void Dispose() => _fd.Dispose();

    private static TapException Failed(string name, string what, int errno) =>
        new($"tap {name}: {what} failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
}
