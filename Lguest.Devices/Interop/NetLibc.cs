using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// The libc calls and kernel constants of the tap device and its host-side configuration
/// (&lt;linux/if_tun.h&gt;, &lt;linux/sockios.h&gt;, &lt;net/if.h&gt;). Source-generated, so AOT-safe; the
/// numbers are checked against the C headers by a test.
/// </summary>
internal static unsafe partial class NetLibc
{
    public const int ORdwr = 2;             // O_RDWR, <fcntl.h>
    public const int ONonblock = 0x800;     // O_NONBLOCK
    public const int OCloexec = 0x80000;    // O_CLOEXEC

    public const ushort AfInet = 2;         // AF_INET, <sys/socket.h>
    public const int SockDgram = 2;         // SOCK_DGRAM
    public const int SockCloexec = 0x80000; // SOCK_CLOEXEC

    // <linux/if_tun.h>: _IOW('T', n, int) and _IOR('T', n, unsigned int).
    public const uint TunSetIff = 0x400454ca;       // TUNSETIFF
    public const uint TunGetFeatures = 0x800454cf;  // TUNGETFEATURES
    public const uint TunSetOffload = 0x400454d0;   // TUNSETOFFLOAD
    public const uint TunGetIff = 0x800454d2;       // TUNGETIFF
    public const uint TunGetVnetHdrSz = 0x800454d7; // TUNGETVNETHDRSZ
    public const uint TunSetVnetHdrSz = 0x400454d8; // TUNSETVNETHDRSZ

    public const short IffTap = 0x0002;      // IFF_TAP: Ethernet frames, not IP packets
    public const short IffNoPi = 0x1000;     // IFF_NO_PI: no struct tun_pi before each frame
    public const short IffVnetHdr = 0x4000;  // IFF_VNET_HDR: a virtio_net_hdr before each frame

    // <linux/sockios.h>: interface ioctls on any AF_INET socket.
    public const uint SiocGifFlags = 0x8913;   // SIOCGIFFLAGS
    public const uint SiocSifFlags = 0x8914;   // SIOCSIFFLAGS
    public const uint SiocSifAddr = 0x8916;    // SIOCSIFADDR
    public const uint SiocSifNetmask = 0x891c; // SIOCSIFNETMASK
    public const uint SiocGifMtu = 0x8921;     // SIOCGIFMTU
    public const uint SiocGifIndex = 0x8933;   // SIOCGIFINDEX
    public const uint SiocBrAddIf = 0x89a2;    // SIOCBRADDIF, <linux/sockios.h> (the bridge's own range)

    public const short IffUp = 0x1;            // IFF_UP, <net/if.h>

    public const short PollIn = 0x1;           // POLLIN, <poll.h>
    public const short PollOut = 0x4;          // POLLOUT
    public const short PollErr = 0x8;          // POLLERR
    public const short PollHup = 0x10;         // POLLHUP

    /// <summary>IOV_MAX: the most buffers one readv or writev takes.</summary>
    public const int IovMax = 1024;

    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int ENXIO = 6;
    public const int EAGAIN = 11;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int EOPNOTSUPP = 95;
    public const int EADDRNOTAVAIL = 99;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(SafeHandle fd, nuint request, void* argument);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(SafeHandle fd, nuint request, nuint argument);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    /// <summary>struct pollfd, &lt;poll.h&gt;.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }
}
