namespace Lguest.Terminal;

/// <summary>A line the guest wrote to a captured console (<see cref="ConsoleCapture.LineReceived"/>).</summary>
/// <param name="line">The line, without its line end.</param>
public sealed class ConsoleLineEventArgs(string line) : EventArgs
{
    /// <summary>The line, without its line end ("\n", "\r\n").</summary>
    public string Line { get; } = line ?? throw new ArgumentNullException(nameof(line));
}
