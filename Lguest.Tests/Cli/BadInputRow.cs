namespace Lguest.Tests.Cli;

/// <summary>
/// One row of <see cref="BadInputTests"/>: the arguments (with {dir}, {text}, {unreadable} and {read-only}
/// standing for the row's own files), the exit code expected, and what the first stderr line must contain.
/// </summary>
public sealed record BadInputRow(string Name, int ExitCode, string Names, IReadOnlyList<string> Arguments)
{
    /// <summary>Options the row needs in the CLI; the row is skipped while one has not landed.</summary>
    public IReadOnlyList<string> Needs { get; init; } = [];

    /// <summary>Whether the child runs without CAP_DAC_OVERRIDE, so that permission bits bind root.</summary>
    public bool Wrapped { get; init; }

    public override string ToString() => Name;
}
