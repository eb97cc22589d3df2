using Microsoft.Win32.SafeHandles;

namespace Lguest.Cli;

/// <summary>What a run talks to on the host: the console streams, where errors go, and how signals are watched.</summary>
/// <param name="Input">The console's input (the terminal, fd 0).</param>
/// <param name="Output">The console's output (fd 1).</param>
/// <param name="Error">Where the one-line errors go (stderr).</param>
/// <param name="OwnsTerminal">Whether this is the process's own terminal: raw mode, escapes and signals apply.</param>
internal sealed record RunEnvironment(Stream Input, Stream Output, TextWriter Error, bool OwnsTerminal)
{
    /// <summary>
    /// Whether the run is the whole process (the lguest command), which it may then confine for good with
    /// --seccomp; a run inside a test host must not seal the host.
    /// </summary>
    public bool OwnsProcess { get; init; }

    /// <summary>
    /// This process's fds 0 and 1, read and written directly: System.Console's terminal stream would echo and
    /// line-edit the input itself (and switch the keypad mode), which a guest's own shell must do instead. Output goes
    /// out with write(2) (<see cref="DescriptorOutputStream"/>), so it keeps its order with stderr in one file.
    /// </summary>
    public static RunEnvironment Process(TextWriter error) => new(
        new FileStream(new SafeFileHandle(0, ownsHandle: false), FileAccess.Read, bufferSize: 0),
        new DescriptorOutputStream(1),
        error,
        OwnsTerminal: true) { OwnsProcess = true };
}
