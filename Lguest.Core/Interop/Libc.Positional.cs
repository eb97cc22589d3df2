using System.Runtime.InteropServices;

namespace Lguest.Interop;

/// <summary>Positional reads and writes on a device fd (/dev/lguest takes the position as the vCPU number).</summary>
internal static partial class Libc
{
    public const int EINVAL = 22;
    public const int EBUSY = 16;
    public const int ERESTART = 85;  // ERESTART, <asm-generic/errno.h>: "interrupted system call should be restarted"

    [LibraryImport("libc", EntryPoint = "pread64", SetLastError = true)]
    public static partial nint Pread(FileDescriptor fd, Span<byte> buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "pwrite64", SetLastError = true)]
    public static partial nint Pwrite(FileDescriptor fd, ReadOnlySpan<byte> buffer, nuint count, long offset);
}
