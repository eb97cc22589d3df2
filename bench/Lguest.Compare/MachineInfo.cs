using System.Diagnostics;

namespace Lguest.Compare;

/// <summary>What the figures were measured on: CPU, kernel, the KVM module, QEMU and .NET versions, the date.</summary>
internal sealed class MachineInfo
{
    private static readonly string[] KvmModules = ["kvm_pvm", "kvm_intel", "kvm_amd"];

    public string Cpu { get; init; } = "";

    public int Cores { get; init; }

    public string Kernel { get; init; } = "";

    public string KvmModule { get; init; } = "";

    public string QemuVersion { get; init; } = "";

    public string DotnetVersion { get; init; } = "";

    public string Date { get; init; } = "";

    public static MachineInfo Capture() => new()
    {
        Cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown",
        Cores = Environment.ProcessorCount,
        Kernel = File.ReadAllText("/proc/sys/kernel/osrelease").Trim(),
        KvmModule = KvmModules.FirstOrDefault(m => Directory.Exists($"/sys/module/{m}")) ?? "none",
        QemuVersion = FirstLine(Vmm.Qemu, "--version"),
        DotnetVersion = Environment.Version.ToString(),
        Date = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// The host a section was measured on, in a few words (kernel, KVM module, cores): sections of one results.json
    /// are taken on different days, and this project's machines differ in exactly these (kvm_pvm, no /dev/kvm).
    /// </summary>
    public static string Brief() => BriefOnce.Value;

    private static readonly Lazy<string> BriefOnce = new(() =>
    {
        string kernel = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        string kvm = KvmModules.FirstOrDefault(m => Directory.Exists($"/sys/module/{m}")) ?? "no KVM module";
        string device = File.Exists("/dev/kvm") ? "/dev/kvm" : "no /dev/kvm";
        return $"Linux {kernel}, {kvm}, {device}, {Environment.ProcessorCount} cores";
    });

    /// <summary>The 1, 5 and 15 minute load averages, as /proc/loadavg gives them.</summary>
    public static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static string FirstLine(string program, string argument)
    {
        try
        {
            using Process process = Process.Start(new ProcessStartInfo(program, argument) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            string line = process.StandardOutput.ReadLine() ?? "";
            process.WaitForExit();
            return line.Trim();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "not installed";
        }
    }
}
