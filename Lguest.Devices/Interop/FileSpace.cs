using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Devices.Interop;

/// <summary>
/// fallocate(2) on a disk image: what DISCARD and WRITE_ZEROES become. The mode bits come from
/// &lt;linux/falloc.h&gt; (checked against it by a test); the image never changes size (KEEP_SIZE).
/// </summary>
internal static partial class FileSpace
{
    public const int KeepSize = 0x01;   // FALLOC_FL_KEEP_SIZE
    public const int PunchHole = 0x02;  // FALLOC_FL_PUNCH_HOLE: deallocate; reads give zeroes after
    public const int ZeroRange = 0x10;  // FALLOC_FL_ZERO_RANGE: zeroes, the blocks stay allocated

    public const int EINTR = 4;
    public const int EINVAL = 22;
    public const int EOPNOTSUPP = 95;

    /// <summary>fallocate with EINTR retried: 0, or the errno of the failure.</summary>
    public static int Allocate(SafeFileHandle file, int mode, long offset, long length)
    {
        while (true)
        {
            if (Fallocate(file, mode, offset, length) == 0)
                return 0;
            int errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR)
                return errno;
        }
    }

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(SafeFileHandle fd, int mode, long offset, long length);
}
