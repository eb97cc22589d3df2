using System.Runtime.InteropServices;

namespace Lguest.Interop;

/// <summary>Opening device nodes (/dev/kvm, /dev/lguest) as <see cref="FileDescriptor"/>s.</summary>
internal static partial class Libc
{
    public const int ORdwr = 2;           // O_RDWR, <fcntl.h>
    public const int OCloexec = 0x80000;  // O_CLOEXEC

    public const int ENOENT = 2;
    public const int ENXIO = 6;
    public const int E2BIG = 7;
    public const int EACCES = 13;
    public const int ENODEV = 19;
    public const int EPERM = 1;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);
}
