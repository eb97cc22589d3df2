using System.Runtime.InteropServices;
using Lguest.Interop;

namespace Lguest.DevLguest;

/// <summary>The real /dev/lguest: a character device of Linux 2.6.23 to 4.13 on i386 hosts.</summary>
internal sealed class LguestDeviceFile : ILguestDevice
{
    /// <summary>Where the device node lived.</summary>
    public const string DefaultPath = "/dev/lguest";

    private readonly FileDescriptor _fd;

    private LguestDeviceFile(FileDescriptor fd) => _fd = fd;

    /// <summary>Opens <paramref name="path"/> read-write; false with the errno when it cannot be opened.</summary>
    public static bool TryOpen(string path, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LguestDeviceFile? file, out int errno)
    {
        int fd = Libc.Open(path, Libc.ORdwr | Libc.OCloexec);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            file = null;
            return false;
        }
        errno = 0;
        file = new LguestDeviceFile(new FileDescriptor(fd));
        // Install the kick's handler now, before any vCPU thread can block in a read it might need to interrupt.
        _ = LguestKick.Signal;
        return true;
    }

    public int Write(ReadOnlySpan<byte> request, long offset)
    {
        nint rc = Libc.Pwrite(_fd, request, (nuint)request.Length, offset);
        return rc < 0 ? -Marshal.GetLastPInvokeError() : (int)rc;
    }

    public int Read(Span<byte> buffer, long offset)
    {
        nint rc = Libc.Pread(_fd, buffer, (nuint)buffer.Length, offset);
        return rc < 0 ? -Marshal.GetLastPInvokeError() : (int)rc;
    }

    public void Interrupt(int threadId) => LguestKick.Send(threadId);

    public void Dispose() => _fd.Dispose();
}
