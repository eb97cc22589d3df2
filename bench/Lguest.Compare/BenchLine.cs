using System.Globalization;

namespace Lguest.Compare;

/// <summary>
/// One figure value from the nested bed's scripts (bench/bed/bed-bench.sh), the line contract between them
/// and this harness: <c>BENCH&lt;TAB&gt;section&lt;TAB&gt;figure name&lt;TAB&gt;unit&lt;TAB&gt;column&lt;TAB&gt;round&lt;TAB&gt;value</c>,
/// column one of lguest-aot, lguest-jit, qemu-pc, qemu-microvm, value a number or <c>nan</c>.
/// </summary>
internal sealed record BenchLine(string Section, string Figure, string Unit, string Column, int Round, double Value)
{
    public const string Prefix = "BENCH\t";

    /// <summary>The columns a bed line may name.</summary>
    public static readonly IReadOnlySet<string> Columns = new HashSet<string>(StringComparer.Ordinal)
        { Vmm.LguestAot, Vmm.LguestJit, Vmm.QemuPc, Vmm.QemuMicrovm, "lguest-aot-sync", "lguest-aot-threads", "lguest-aot-ioeventfd", "qemu-pc-threads", "qemu-pc-uring", "qemu-virtiofsd", "qemu-vhost" };

    /// <summary>
    /// Parses <paramref name="line"/>: false with <paramref name="problem"/> null for a line that is not a
    /// BENCH line (the script's log), false with a problem for a BENCH line that breaks the contract.
    /// </summary>
    public static bool TryParse(string line, out BenchLine? parsed, out string? problem)
    {
        parsed = null;
        problem = null;
        if (!line.StartsWith(Prefix, StringComparison.Ordinal))
            return false;
        string[] fields = line.TrimEnd('\r').Split('\t');
        if (fields.Length != 7)
        {
            problem = $"{fields.Length - 1} fields, not 6";
            return false;
        }
        if (fields[1..5].Any(string.IsNullOrWhiteSpace))
        {
            problem = "an empty field";
            return false;
        }
        if (!Columns.Contains(fields[4]))
        {
            problem = $"unknown column '{fields[4]}'";
            return false;
        }
        if (!int.TryParse(fields[5], NumberStyles.None, CultureInfo.InvariantCulture, out int round) || round < 1)
        {
            problem = $"round '{fields[5]}' is not a number from 1";
            return false;
        }
        double value;
        if (string.Equals(fields[6], "nan", StringComparison.OrdinalIgnoreCase))
            value = double.NaN;
        else if (!double.TryParse(fields[6], NumberStyles.Float, CultureInfo.InvariantCulture, out value) || !double.IsFinite(value))
        {
            problem = $"value '{fields[6]}' is neither a number nor nan";
            return false;
        }
        parsed = new BenchLine(fields[1], fields[2], fields[3], fields[4], round, value);
        return true;
    }

    /// <summary>
    /// Whether a lower value is the better one for <paramref name="unit"/>: rates (".../s") are higher-is-better,
    /// everything else (times, CPU, memory) lower-is-better.
    /// </summary>
    public static bool IsLowerBetter(string unit) => !unit.EndsWith("/s", StringComparison.Ordinal);
}
