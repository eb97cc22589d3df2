using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Devices.Interop;

/// <summary>
/// fdatasync(2) and fsync(2) on a disk image: what makes a guest's FLUSH durable. .NET's own flush
/// (FileStream.Flush(true)) needs a FileStream; the block device holds only the handle.
/// </summary>
internal static partial class FileSync
{
    private const int EINTR = 4;
    private const int EINVAL = 22;

    /// <summary>
    /// Makes every completed write to <paramref name="file"/> durable (fdatasync: data and the metadata
    /// needed to read it back; the image never changes size). Returns 0, or the errno of the failure.
    /// </summary>
    public static int DataSync(SafeFileHandle file)
    {
        while (true)
        {
            if (Fdatasync(file) == 0)
                return 0;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR)
                continue;
            // A file system without fdatasync: the full fsync does the same and more.
            if (errno == EINVAL)
                return Fsync(file) == 0 ? 0 : Marshal.GetLastPInvokeError();
            return errno;
        }
    }

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int Fdatasync(SafeFileHandle fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(SafeFileHandle fd);
}
