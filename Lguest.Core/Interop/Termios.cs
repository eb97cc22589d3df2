using System.Runtime.InteropServices;

namespace Lguest.Interop;

/// <summary>glibc's struct termios (x86_64: 60 bytes) and the calls that switch a terminal to raw mode and back.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct Termios
{
    public uint InputFlags;     // c_iflag
    public uint OutputFlags;    // c_oflag
    public uint ControlFlags;   // c_cflag
    public uint LocalFlags;     // c_lflag
    public byte Line;           // c_line
    public fixed byte ControlCharacters[32]; // c_cc[NCCS]
    public uint InputSpeed;     // c_ispeed
    public uint OutputSpeed;    // c_ospeed
}

internal static partial class TermiosCalls
{
    public const int TcsaNow = 0;     // TCSANOW
    public const uint Opost = 0x1;    // OPOST: output processing
    public const uint Onlcr = 0x4;    // ONLCR: \n → \r\n, so log lines stay readable in raw mode

    [LibraryImport("libc", EntryPoint = "isatty")]
    public static partial int IsATty(int fd);

    [LibraryImport("libc", EntryPoint = "tcgetattr", SetLastError = true)]
    public static partial int GetAttributes(int fd, out Termios termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr", SetLastError = true)]
    public static partial int SetAttributes(int fd, int when, in Termios termios);

    [LibraryImport("libc", EntryPoint = "cfmakeraw")]
    public static partial void MakeRaw(ref Termios termios);
}
