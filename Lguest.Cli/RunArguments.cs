using System.Globalization;

namespace Lguest.Cli;

/// <summary>The parsed command line: <c>lguest [options] MEM-IN-MB KERNEL [kernel args...]</c>.</summary>
internal sealed record RunArguments
{
    public const string Usage = """
        Usage: lguest [options] MEM-IN-MB KERNEL [kernel args...]
        Boots a Linux kernel (bzImage or ELF vmlinux) with MEM-IN-MB megabytes of RAM, its console on
        this terminal (COM1); Ctrl-A x stops the guest.

        Options (--opt=value and --opt value are both accepted, before or after KERNEL; after KERNEL,
        other arguments go to the kernel, and -- passes the rest as they are):
          --initrd=FILE          load FILE as the initial RAM disk
          --cpus=N               give the guest N vCPUs (default 1)
          --backend=auto|kvm|lguest
                                 the hypervisor (default auto: KVM)
          --tunnet=IPADDR[/PREFIX][:MAC]
          --tunnet=bridge:NAME[:MAC]
                                 a virtio network card on a new tap whose host end gets IPADDR, or
                                 which joins the existing bridge NAME; MAC is the guest's (default:
                                 random, locally administered); may be given several times
          --no-reboot            exit when the guest reboots instead of booting it again
          --verbose              log what the launcher does, with timings, on stderr
          --help                 show this help
        """;

    public bool Help { get; init; }

    public bool Verbose { get; init; }

    public bool NoReboot { get; init; }

    public int Cpus { get; init; } = 1;

    public string Backend { get; init; } = "auto";

    public string? Initrd { get; init; }

    /// <summary>One entry per <c>--tunnet</c>, in order: the guest's network cards.</summary>
    public IReadOnlyList<Devices.TunnetSpec> Tunnets { get; init; } = [];

    /// <summary>MEM-IN-MB as typed; <see cref="RunCommand"/> checks it (a bad size is bad input, not bad usage).</summary>
    public string Memory { get; init; } = "";

    public string Kernel { get; init; } = "";

    public IReadOnlyList<string> KernelArguments { get; init; } = [];

    public string CommandLine => string.Join(' ', KernelArguments);

    /// <summary>
    /// Parses <paramref name="args"/>; on failure <paramref name="error"/> says what is wrong in one line.
    /// Launcher options may come anywhere (<c>lguest 512 vmlinuz --initrd=initrd.img console=ttyS0</c>, as
    /// the seeds' users typed it); after KERNEL an argument that is not a launcher option goes to the
    /// kernel, and <c>--</c> passes everything after it (itself included) to the kernel verbatim.
    /// </summary>
    public static bool TryParse(IReadOnlyList<string> args, out RunArguments parsed, out string? error)
    {
        parsed = new RunArguments();
        error = null;
        var positional = new List<string>();
        var kernelArguments = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            bool afterKernel = positional.Count >= 2;
            if (arg == "--")
            {
                // Before KERNEL it only ends the options; after it, the kernel gets "--" and the rest (init's arguments).
                int from = afterKernel ? i : i + 1;
                foreach (string rest in args.Skip(from))
                {
                    if (positional.Count < 2 && rest != "--")
                        positional.Add(rest);
                    else
                        kernelArguments.Add(rest);
                }
                break;
            }
            if (!arg.StartsWith('-') || arg == "-")
            {
                if (afterKernel)
                    kernelArguments.Add(arg);
                else
                    positional.Add(arg);
                continue;
            }
            string name = arg, value = "";
            bool hasValue = false;
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                name = arg[..equals];
                value = arg[(equals + 1)..];
                hasValue = true;
            }
            switch (name)
            {
                case "--help" or "-h":
                    parsed = parsed with { Help = true };
                    return true;
                case "--verbose" or "-v" when !hasValue:
                    parsed = parsed with { Verbose = true };
                    break;
                case "--no-reboot" when !hasValue:
                    parsed = parsed with { NoReboot = true };
                    break;
                case "--initrd" or "--cpus" or "--backend" or "--tunnet":
                    if (!hasValue)
                    {
                        if (i + 1 >= args.Count)
                        {
                            error = $"{name} needs a value";
                            return false;
                        }
                        value = args[++i];
                    }
                    if (!TryApply(ref parsed, name, value, out error))
                        return false;
                    break;
                default:
                    if (afterKernel)
                    {
                        kernelArguments.Add(arg); // not ours: the kernel's (or init's)
                        break;
                    }
                    error = hasValue && name is "--verbose" or "--no-reboot" ? $"{name} takes no value" : $"unknown option {arg}";
                    return false;
            }
        }
        if (positional.Count < 2)
        {
            error = positional.Count == 0 ? "missing MEM-IN-MB and KERNEL" : "missing KERNEL";
            return false;
        }
        parsed = parsed with { Memory = positional[0], Kernel = positional[1], KernelArguments = kernelArguments };
        return true;
    }

    private static bool TryApply(ref RunArguments parsed, string name, string value, out string? error)
    {
        error = null;
        switch (name)
        {
            case "--initrd":
                if (value.Length == 0)
                {
                    error = "--initrd needs a file name";
                    return false;
                }
                parsed = parsed with { Initrd = value };
                return true;
            case "--cpus":
                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int cpus) || cpus < 1 || cpus > Machine.LauncherOptions.MaxCpus)
                {
                    error = $"--cpus '{value}' is not a number from 1 to {Machine.LauncherOptions.MaxCpus}";
                    return false;
                }
                parsed = parsed with { Cpus = cpus };
                return true;
            case "--tunnet":
                if (!Devices.TunnetSpec.TryParse(value, out Devices.TunnetSpec? spec, out string? why))
                {
                    error = $"--tunnet '{value}': {why}";
                    return false;
                }
                parsed = parsed with { Tunnets = [.. parsed.Tunnets, spec] };
                return true;
            default: // --backend
                if (value is not ("auto" or "kvm" or "lguest"))
                {
                    error = $"--backend '{value}' is not one of auto, kvm, lguest";
                    return false;
                }
                parsed = parsed with { Backend = value };
                return true;
        }
    }
}
