namespace Lguest.Tests.Support;

/// <summary>
/// What one run of the nested bed (Lguest.Tests/Guests/bed.sh) left behind.
/// </summary>
/// <param name="Console">
/// The command's part of L1's console: everything between the BED-COMMAND-START and BED-EXIT markers,
/// which for an L2 VMM is the L2 guest's console. Carriage returns removed, and kernel log records that
/// landed inside a line moved before it (<see cref="KernelLogUntangler"/>), so marker lines read whole.
/// </param>
/// <param name="Transcript">The whole L1 console plus bed.sh's own messages, carriage returns removed.</param>
/// <param name="ExitStatus">
/// bed.sh's exit status: the command's own (from BED-EXIT), 124 when bed.sh's hang protection stopped L1,
/// 125 when the bed never ran the command.
/// </param>
/// <param name="Elapsed">Wall time of the whole run, images refresh and L1 boot included.</param>
public sealed record NestedBedRun(string Console, string Transcript, int ExitStatus, TimeSpan Elapsed)
{
    /// <summary>bed.sh's status when L1 ended before the command did (no BED-EXIT marker, not the timeout).</summary>
    public const int BedNeverFinished = 125;

    /// <summary>How many lines of <see cref="Console"/> contain <paramref name="marker"/> (e.g. boots seen).</summary>
    public int CountLines(string marker) =>
        Console.Split('\n').Count(line => line.Contains(marker, StringComparison.Ordinal));

    /// <summary>The transcript, for assertion messages: a failed check shows what the guest printed.</summary>
    public override string ToString() => $"bed exit {ExitStatus} after {Elapsed.TotalSeconds:F1} s\n{Transcript}";
}
