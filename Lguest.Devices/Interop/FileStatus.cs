using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// lstat(2)'s file type, which .NET does not expose: the vsock device replaces a Unix socket left at its path by
/// a launcher that is gone, and must never remove anything else there. struct stat's layout is x86-64's (a test
/// checks <see cref="ModeOffset"/> and <see cref="StatSize"/> against &lt;sys/stat.h&gt;).
/// </summary>
internal static unsafe partial class FileStatus
{
    /// <summary>sizeof(struct stat) on x86-64.</summary>
    public const int StatSize = 144;

    /// <summary>offsetof(struct stat, st_mode) on x86-64.</summary>
    public const int ModeOffset = 24;

    /// <summary>S_IFMT, &lt;sys/stat.h&gt;: the file type bits of st_mode.</summary>
    public const uint TypeMask = 0xf000;

    /// <summary>S_IFSOCK, &lt;sys/stat.h&gt;.</summary>
    public const uint Socket = 0xc000;

    /// <summary>The file type bits of <paramref name="path"/> itself (a symbolic link is not followed), or null when it does not exist.</summary>
    /// <exception cref="IOException">lstat failed for another reason.</exception>
    public static uint? TypeOf(string path)
    {
        byte* stat = stackalloc byte[StatSize];
        if (Lstat(path, stat) == 0)
            return *(uint*)(stat + ModeOffset) & TypeMask; // Safety: the kernel filled StatSize bytes; st_mode is inside them
        int errno = Marshal.GetLastPInvokeError();
        if (errno is 2 or 20) // ENOENT, ENOTDIR
            return null;
        throw new IOException($"lstat '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
    }

    [LibraryImport("libc", EntryPoint = "lstat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Lstat(string path, byte* stat);
}
