using System.Runtime.InteropServices;

namespace Lguest.Interop;

/// <summary>Sparse files (guest memory images): where the data and the holes are, and which file a handle is.</summary>
internal static unsafe partial class Libc
{
    public const int SeekData = 3;  // SEEK_DATA, <unistd.h>: the next offset at or after this one holding data
    public const int SeekHole = 4;  // SEEK_HOLE: the next offset at or after this one in a hole (or the end)

    /// <summary>sizeof(struct stat) on x86-64 glibc; st_dev and st_ino are its first two 8-byte fields.</summary>
    internal const int StatSize = 144;

    [LibraryImport("libc", EntryPoint = "lseek64", SetLastError = true)]
    public static partial long Lseek(SafeHandle fd, long offset, int whence);

    public const int ODirectory = 0x10000; // O_DIRECTORY, <fcntl.h>

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(SafeHandle fd);

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static partial int Fstat(SafeHandle fd, byte* stat);

    /// <summary>The device and inode of an open file, or null when fstat fails.</summary>
    public static (ulong Device, ulong Inode)? FileIdentity(SafeHandle fd)
    {
        byte* stat = stackalloc byte[StatSize];
        if (Fstat(fd, stat) != 0)
            return null;
        return (*(ulong*)stat, *(ulong*)(stat + 8));
    }
}
