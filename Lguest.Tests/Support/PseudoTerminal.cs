using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Lguest.Interop;

namespace Lguest.Tests.Support;

/// <summary>
/// A pseudo-terminal pair for tests that need a program to see a real terminal on its stdin/stdout (as a
/// person at a terminal would give it): the test holds the master side, reads everything the program
/// writes and types bytes as keys; <see cref="SlavePath"/> is the terminal the program gets.
/// </summary>
internal sealed partial class PseudoTerminal : IDisposable
{
    private const int OpenReadWrite = 2;     // O_RDWR
    private const int OpenNoControllingTty = 0x100; // O_NOCTTY: the test process must not adopt the terminal

    private readonly int _master;
    private readonly int _slave; // held open so the terminal and its settings outlive the program under test
    private readonly StringBuilder _output = new();
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _arrived = new(0);
    private readonly Thread _reader;

    private PseudoTerminal(int master, int slave, string slavePath)
    {
        _master = master;
        _slave = slave;
        SlavePath = slavePath;
        _reader = new Thread(ReadMaster) { IsBackground = true, Name = "pty master" };
        _reader.Start();
    }

    /// <summary>The terminal device (/dev/pts/N) to give the program as stdin and stdout.</summary>
    public string SlavePath { get; }

    /// <summary>Everything the program wrote to the terminal so far (bytes as Latin-1 characters).</summary>
    public string Output
    {
        get
        {
            lock (_lock)
                return _output.ToString();
        }
    }

    /// <summary>Opens a new pair; the terminal starts in the kernel's default (cooked, echoing) mode.</summary>
    public static PseudoTerminal Open()
    {
        int master = PosixOpenPt(OpenReadWrite | OpenNoControllingTty);
        if (master < 0 || GrantPt(master) != 0 || UnlockPt(master) != 0)
            throw new IOException($"cannot open a pseudo-terminal: errno {Marshal.GetLastPInvokeError()}");
        var name = new byte[128];
        if (PtsName(master, name, (nuint)name.Length) != 0)
            throw new IOException($"ptsname_r: errno {Marshal.GetLastPInvokeError()}");
        string path = Encoding.ASCII.GetString(name, 0, Array.IndexOf(name, (byte)0));
        int slave = OpenFile(path, OpenReadWrite | OpenNoControllingTty);
        if (slave < 0)
            throw new IOException($"cannot open {path}: errno {Marshal.GetLastPInvokeError()}");
        return new PseudoTerminal(master, slave, path);
    }

    /// <summary>Types <paramref name="keys"/> (bytes as Latin-1 characters) as a person would.</summary>
    public void Type(string keys)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(keys);
        int written = 0;
        while (written < bytes.Length)
        {
            nint n = WriteFile(_master, bytes.AsSpan(written), (nuint)(bytes.Length - written));
            if (n <= 0)
                throw new IOException($"write to the pty master: errno {Marshal.GetLastPInvokeError()}");
            written += (int)n;
        }
    }

    /// <summary>
    /// Waits until <paramref name="done"/> holds for the output so far, the guard expires (a hung program:
    /// false), or <paramref name="stop"/> says to give up (e.g. the program exited).
    /// </summary>
    public bool WaitFor(Func<string, bool> done, TimeSpan guard, Func<bool>? stop = null)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < guard)
        {
            if (done(Output))
                return true;
            if (stop?.Invoke() == true)
                return done(Output);
            _arrived.Wait(TimeSpan.FromMilliseconds(100));
        }
        return done(Output);
    }

    /// <summary>The terminal's current settings (c_lflag and friends), as the program left them.</summary>
    public Termios Attributes()
    {
        if (TermiosCalls.GetAttributes(_slave, out Termios attributes) != 0)
            throw new IOException($"tcgetattr: errno {Marshal.GetLastPInvokeError()}");
        return attributes;
    }

    public void Dispose()
    {
        // Closing the last slave descriptor hangs the terminal up: the reader's read() fails with EIO and it
        // ends before the master's number can be reused by anything else.
        _ = CloseFile(_slave);
        if (_reader.Join(TimeSpan.FromSeconds(5)))
            _arrived.Dispose();
        _ = CloseFile(_master);
    }

    private void ReadMaster()
    {
        var buffer = new byte[4096];
        while (true)
        {
            nint n = ReadFile(_master, buffer, (nuint)buffer.Length);
            if (n <= 0)
                return; // EIO: no slave is open any more
            lock (_lock)
                _output.Append(Encoding.Latin1.GetString(buffer, 0, (int)n));
            _arrived.Release();
        }
    }

    [LibraryImport("libc", EntryPoint = "posix_openpt", SetLastError = true)]
    private static partial int PosixOpenPt(int flags);

    [LibraryImport("libc", EntryPoint = "grantpt", SetLastError = true)]
    private static partial int GrantPt(int fd);

    [LibraryImport("libc", EntryPoint = "unlockpt", SetLastError = true)]
    private static partial int UnlockPt(int fd);

    [LibraryImport("libc", EntryPoint = "ptsname_r", SetLastError = true)]
    private static partial int PtsName(int fd, Span<byte> buffer, nuint length);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenFile(string path, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadFile(int fd, Span<byte> buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteFile(int fd, ReadOnlySpan<byte> buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseFile(int fd);
}
