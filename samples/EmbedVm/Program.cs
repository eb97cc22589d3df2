// EmbedVm: boots a Linux kernel and initrd with a serial console, a virtio console, a virtio disk and a virtio rng,
// prints the guest's console lines, and stops the guest at the first line that matches a pattern, or on a timeout.
//
//   dotnet run -- KERNEL INITRD DISK [--until REGEX] [--timeout SECONDS] [KERNEL-ARGUMENTS...]
//
// Exit status: 0 a line matched, 1 no line matched (the guest ended or the timeout passed), 2 bad arguments,
// 3 this host cannot run guests (no /dev/kvm, no permission), 4 the machine could not be built.
using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;
using Lguest;
using Lguest.Devices;
using Lguest.Hypervisor;
using Lguest.Machine;
using Lguest.Terminal;
using Microsoft.Extensions.DependencyInjection;

if (!Arguments.TryParse(args, out Arguments? a, out string usage))
{
    Console.Error.WriteLine(usage);
    return 2;
}

// Each console's lines, as the library delivers them: the serial port's (kernel messages) and hvc0's.
using var serial = new ConsoleCapture();
using var hvc0 = new ConsoleCapture();
serial.LineReceived += (_, e) => Console.WriteLine($"ttyS0| {e.Line}");
hvc0.LineReceived += (_, e) => Console.WriteLine($"hvc0 | {e.Line}");
string? matched = null;
bool Until(string line) => a.Until.IsMatch(line) && (matched = line) is not null;

// The composition.
using ServiceProvider provider = new ServiceCollection()
    .AddLguest(o => { o.MemoryBytes = 256UL << 20; o.ConsoleOutput = serial.Output; })
    .AddKvm()
    .AddKernel(a.Kernel, a.Initrd, $"console=ttyS0 {a.KernelArguments}")
    .AddVirtioConsole(o => o.Output = hvc0.Output)
    .AddVirtioBlock(a.Disk)
    .AddVirtioRng()
    .BuildServiceProvider();
Launcher launcher = provider.GetRequiredService<Launcher>();
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
// The guest writes its markers on either console: whichever shows the line first ends the run.
hvc0.LineReceived += (_, e) => { if (Until(e.Line)) launcher.Stop($"hvc0 showed \"{e.Line}\""); };

try
{
    GuestExit exit = await launcher.RunUntilAsync(serial, Until, a.Timeout, cancel.Token);
    Console.WriteLine(matched is null ? $"EMBEDVM-NO-MATCH {exit.Kind}: {exit.Message}" : $"EMBEDVM-MATCHED {matched}");
    return matched is null ? 1 : 0;
}
catch (HostUnavailableException e)
{
    Console.Error.WriteLine($"embedvm: this host cannot run guests ({e.Reason}): {e.Message}");
    return 3;
}
catch (LguestException e)
{
    Console.Error.WriteLine($"embedvm: {e.Message}");
    return 4;
}

/// <summary>The command line: three files, then options and the kernel's own arguments.</summary>
internal sealed record Arguments(string Kernel, string Initrd, string Disk, Regex Until, TimeSpan Timeout, string KernelArguments)
{
    public static bool TryParse(string[] args, [NotNullWhen(true)] out Arguments? parsed, out string usage)
    {
        parsed = null;
        usage = "usage: EmbedVm KERNEL INITRD DISK [--until REGEX] [--timeout SECONDS] [KERNEL-ARGUMENTS...]";
        if (args.Length < 3)
            return false;
        var until = new Regex("GUEST-SCENARIO-EXIT", RegexOptions.None, TimeSpan.FromSeconds(1));
        var timeout = TimeSpan.FromMinutes(5);
        var rest = new List<string>();
        for (int i = 3; i < args.Length; i++)
        {
            if (args[i] == "--until" && i + 1 < args.Length)
            {
                try
                {
                    until = new Regex(args[++i], RegexOptions.None, TimeSpan.FromSeconds(1));
                }
                catch (ArgumentException e)
                {
                    usage = $"embedvm: --until {args[i]}: {e.Message}";
                    return false;
                }
            }
            else if (args[i] == "--timeout" && i + 1 < args.Length)
            {
                if (!int.TryParse(args[++i], out int seconds) || seconds <= 0)
                {
                    usage = $"embedvm: --timeout {args[i]}: expected a positive number of seconds";
                    return false;
                }
                timeout = TimeSpan.FromSeconds(seconds);
            }
            else
            {
                rest.Add(args[i]);
            }
        }
        parsed = new Arguments(args[0], args[1], args[2], until, timeout, string.Join(' ', rest));
        return true;
    }
}
