using System.Text;

namespace Lguest.Cli.Api;

/// <summary>
/// Passes everything to <paramref name="inner"/> (stderr) and remembers the last line: the one-line error a run that
/// failed to start wrote, which an InstanceStart waiting for it answers with.
/// </summary>
internal sealed class LastLineWriter(TextWriter inner) : TextWriter
{
    private readonly Lock _lock = new();
    private readonly StringBuilder _line = new();
    private string? _last;

    public override Encoding Encoding => inner.Encoding;

    /// <summary>The last complete line written, without the "lguest: " prefix.</summary>
    public string? LastLine
    {
        get
        {
            lock (_lock)
                return _last;
        }
    }

    public override void Write(char value)
    {
        inner.Write(value);
        lock (_lock)
        {
            if (value == '\n')
            {
                string line = _line.ToString().TrimEnd('\r');
                _last = line.StartsWith("lguest: ", StringComparison.Ordinal) ? line["lguest: ".Length..] : line;
                _line.Clear();
            }
            else if (_line.Length < 4096)
            {
                _line.Append(value);
            }
        }
    }

    public override void Write(string? value)
    {
        foreach (char c in value ?? "")
            Write(c);
    }

    public override void WriteLine(string? value)
    {
        Write(value);
        Write('\n');
    }

    public override void Flush() => inner.Flush();
}
