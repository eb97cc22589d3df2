using Lguest.Interop;

namespace Lguest.Terminal;

/// <summary>
/// Puts the host terminal (this process's stdin) in raw mode so every key, Ctrl-C included, goes to the guest, and
/// restores it exactly once on every way out: dispose, process exit, an unhandled exception. What a host
/// application does before giving its terminal to a guest's console (the <c>lguest</c> command does it).
/// </summary>
/// <example>
/// <code>
/// using RawTerminal? raw = RawTerminal.TryEnter();           // null when stdin is not a terminal
/// var keys = new ConsoleEscapeStream(Console.OpenStandardInput(), onEscape: () => launcher.Stop("Ctrl-A x"));
/// </code>
/// </example>
public sealed class RawTerminal : IDisposable
{
    private const int StandardInput = 0;
    private readonly Termios _saved;
    private int _restored;

    private RawTerminal(Termios saved)
    {
        _saved = saved;
        AppDomain.CurrentDomain.ProcessExit += OnExit;
        AppDomain.CurrentDomain.UnhandledException += OnExit;
    }

    /// <summary>Switches stdin to raw mode (output post-processing kept, so \n still starts a line) if it is a terminal; null when it is not (a pipe, a file, a test).</summary>
    public static RawTerminal? TryEnter()
    {
        if (TermiosCalls.IsATty(StandardInput) != 1 || TermiosCalls.GetAttributes(StandardInput, out Termios saved) != 0)
            return null;
        Termios raw = saved;
        TermiosCalls.MakeRaw(ref raw);
        raw.OutputFlags |= TermiosCalls.Opost | TermiosCalls.Onlcr;
        if (TermiosCalls.SetAttributes(StandardInput, TermiosCalls.TcsaNow, raw) != 0)
            return null;
        return new RawTerminal(saved);
    }

    /// <summary>Restores the terminal as it was.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _restored, 1) != 0)
            return;
        _ = TermiosCalls.SetAttributes(StandardInput, TermiosCalls.TcsaNow, _saved);
        AppDomain.CurrentDomain.ProcessExit -= OnExit;
        AppDomain.CurrentDomain.UnhandledException -= OnExit;
    }

    private void OnExit(object? sender, EventArgs e) => Dispose();
}
