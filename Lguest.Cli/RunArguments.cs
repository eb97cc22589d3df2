using System.Globalization;
using Lguest.Devices;

namespace Lguest.Cli;

/// <summary>
/// The parsed command line, the lguest launcher's (seed 002) with a few options of ours:
/// <c>lguest [--verbose|-v] [--tunnet=...]... [--block=[ro:]FILE]... [--rng] [--initrd=FILE] [--username=USER]
/// [--chroot=DIR] MEM-IN-MB vmlinux [kernel args...]</c>.
/// </summary>
/// <remarks>
/// Parsed as getopt_long did for the seed: <c>--opt=value</c> and <c>--opt value</c>, a long option may be
/// shortened to any unambiguous prefix (<c>--verb</c>), <c>-v</c> may repeat (<c>-vv</c>), and options may follow
/// the positional arguments (GNU argument permutation). Unlike getopt, after KERNEL an argument that is not one
/// of ours goes to the kernel rather than failing, so <c>lguest 64 vmlinux --block=disk root=/dev/vda</c> and
/// <c>lguest 64 vmlinux init=/bin/sh -s</c> both work; <c>--</c> passes everything after it as it is.
/// </remarks>
internal sealed record RunArguments
{
    public const string Usage = """
        Usage: lguest [--verbose|-v] [--tunnet=(<ipaddr>:<macaddr>|bridge:<bridgename>:<macaddr>)]...
                      [--block=[ro:]<filename>]... [--share=<dir>:<tag>[:ro]]... [--rng] [--vsock=<path>[:<cid>]]
                      [--initrd=<filename>] [--username=<user>] [--chroot=<dir>] [--net-offloads=on|off] [--poll-us=N] [--io-engine=io_uring|threads|sync] [--io-on-vcpu=on|off] [--strict] [--backend=auto|kvm|lguest] [--cpus=N] [--no-reboot]
                      [--seccomp=on|off|log] [--jail]
                      [--snapshot-to=<dir>] [--api-sock=<path>] <mem-in-mb> vmlinux [args...]
               lguest --restore=<dir> [--verify-memory] [same devices as the snapshot's run, in the same order] [--snapshot-to=<dir>]
               lguest [options] --api-sock=<path>
               lguest [options] --config-file=<file.json> [--api-sock=<path>]
        Boots a Linux kernel (bzImage or ELF vmlinux) with <mem-in-mb> megabytes of RAM and its console on this
        terminal: a virtio console (device 1), and on KVM also COM1, which gets the keys unless the kernel's
        console (its last console=) is hvc0. Three Ctrl-C within a second, or Ctrl-A x, stop the launcher.

          --verbose, -v          log what the launcher does, with timings, on stderr
          --tunnet=<ipaddr>[/<prefix>][:<macaddr>]
          --tunnet=bridge:<bridgename>[:<macaddr>]
                                 a virtio network card on a new tap whose host end gets <ipaddr>, or which
                                 joins the existing bridge; <macaddr> is the guest's (default: random,
                                 locally administered)
          --net-offloads=on|off  offer the network cards' checksum and segmentation offloads (default on)
          --poll-us=N            let the disks' and network cards' workers poll their queues for up to N
                                 microseconds after serving requests, before sleeping (adaptive, as
                                 QEMU's poll-max-ns; default 32, 0 = never poll, at most 1000)
          --block=FILE           a disk on the image FILE
          --block=ro:FILE        a read-only disk on FILE (a file named ro:... is ./ro:...)
          --io-engine=io_uring|threads|sync  how the disks do their I/O: many requests in flight on
                                 io_uring (default) or on a pool of I/O threads (QEMU's aio=threads),
                                 or one at a time with blocking calls; each disk has one request
                                 queue per vCPU
          --io-on-vcpu=on|off    serve a disk's small requests, a network card's transmitted frames and
                                 vsock's transmitted packets on the vCPU that notified, in its exit
                                 (default on, as QEMU's ioeventfd=off); off: every notification wakes
                                 the device's worker through an ioeventfd
          --share=DIR:TAG[:ro]   share the host folder DIR with the guest (virtio-fs), which mounts it with
                                 mount -t virtiofs TAG /mnt; :ro refuses every change with EROFS
          --rng                  an entropy device fed from the host's random source
          --vsock=<path>[:<cid>] a vsock device, the guest's CID <cid> (default 3), on Firecracker's hybrid
                                 vsock: host programs connect to the Unix socket <path> and send
                                 "CONNECT <port>\n"; the guest's connections to port P go to <path>_P
          --initrd=FILE          load FILE as the initial RAM disk
          --username=USER        once everything is open, become USER (its uid, gid and groups)
          --chroot=DIR           once everything is open, chroot to DIR (before --username)
          --strict               a driver breaking the virtio rules ends the launcher, as lguest did
                                 (by default only its device is stopped, in DEVICE_NEEDS_RESET)
          --backend=auto|kvm|lguest
                                 the hypervisor (auto: /dev/lguest when it opens, else KVM)
          --cpus=N               give the guest N vCPUs (KVM; default 1)
          --no-reboot            exit when the guest reboots instead of booting it again
          --seccomp=on|off|log   once everything is open, give up every capability and allow only the
                                 system calls a running launcher makes (default on); a call outside them
                                 kills lguest with SIGSYS after one line naming it (log: names it, runs it)
          --jail                 run in new mount, IPC and PID namespaces (root only): lguest is their
                                 first process, sees only its own processes in a /proc of its own, and
                                 its mounts (--chroot's included) stay out of the host's; this process
                                 waits for it, passes on signals and returns its exit status
          --snapshot-to=DIR      on SIGUSR1, pause the guest, write a snapshot of it into DIR, and resume;
                                 on SIGUSR2 the same, but the guest stays paused (copy its disks now)
          --restore=DIR          restore the snapshot in DIR instead of booting a kernel: its RAM and vCPUs
                                 come from the snapshot; give its devices again, in the same order (new
                                 disk copies, taps or sockets may stand in for the old); a bad snapshot is
                                 one line and exit 3
          --verify-memory        with --restore: check every byte of the snapshot's memory image against
                                 its checksum first (a read of all of it), not only its length and a sample
                                 of 256 pages (milliseconds for any size of RAM)
          --api-sock=PATH        serve Firecracker's API (HTTP and JSON) on the Unix socket PATH: without
                                 <mem-in-mb> and vmlinux, wait to be configured and started through it
                                 (PUT /boot-source, /drives/ID, ... then PUT /actions InstanceStart); with
                                 them, boot at once and let it pause, resume or shut down the guest
          --config-file=FILE     the machine from FILE, in Firecracker's --config-file format (boot-source,
                                 drives, network-interfaces, machine-config, vsock, entropy)
          --help, -h             show this help
        Devices are created in the order given, after the console. Options take --opt=value or --opt value,
        may be shortened while unambiguous, and may follow KERNEL; other arguments after KERNEL, and all
        after --, go to the kernel, joined by spaces.
        """;

    /// <summary>The second line of a usage error, after the line naming the problem (GNU's convention).</summary>
    public const string TryHelp = "Try 'lguest --help' for more information.";

    private static readonly (string Name, bool TakesValue)[] LongOptions =
    [
        ("verbose", false), ("tunnet", true), ("block", true), ("share", true), ("rng", false), ("vsock", true), ("initrd", true), ("username", true),
        ("chroot", true), ("net-offloads", true), ("poll-us", true), ("io-engine", true), ("io-on-vcpu", true), ("strict", false), ("backend", true), ("cpus", true), ("no-reboot", false), ("seccomp", true), ("jail", false), ("help", false),
        ("restore", true), ("verify-memory", false), ("snapshot-to", true), ("api-sock", true), ("config-file", true),
    ];

    /// <summary>The <c>--block</c> value prefix that attaches the image read-only.</summary>
    public const string ReadOnlyBlockPrefix = "ro:";

    /// <summary>The <c>--share</c> value suffix that makes the share read-only.</summary>
    public const string ReadOnlyShareSuffix = ":ro";

    public bool Help { get; init; }

    /// <summary>The API socket's path (<c>--api-sock</c>), or null for none.</summary>
    public string? ApiSocket { get; init; }

    /// <summary>The machine's configuration file (<c>--config-file</c>), or null.</summary>
    public string? ConfigFile { get; init; }

    /// <summary>Whether the kernel and memory come from the command line (else from the API or the config file).</summary>
    public bool HasKernel => Kernel.Length != 0;

    public bool Verbose { get; init; }

    public bool NoReboot { get; init; }

    public bool Strict { get; init; }

    public int Cpus { get; init; } = 1;

    public string Backend { get; init; } = "auto";

    public string? Initrd { get; init; }

    public string? Username { get; init; }

    public string? Chroot { get; init; }

    /// <summary>Whether to run in new mount, IPC and PID namespaces (<c>--jail</c>).</summary>
    public bool Jail { get; init; }

    /// <summary>The system-call filter (<c>--seccomp</c>); on unless given.</summary>
    public Seccomp.SeccompMode Seccomp { get; init; } = Lguest.Seccomp.SeccompMode.On;

    /// <summary>The snapshot directory to restore (<c>--restore</c>) instead of booting a kernel.</summary>
    public string? Restore { get; init; }

    /// <summary>Whether a restore reads the whole memory image to check it (<c>--verify-memory</c>), not a sample.</summary>
    public bool VerifyMemory { get; init; }

    /// <summary>With <see cref="Restore"/>: the guest stays paused until resumed (the API's snapshot load without resume_vm).</summary>
    public bool RestorePaused { get; init; }

    /// <summary>Where SIGUSR1 writes a snapshot of the running guest (<c>--snapshot-to</c>).</summary>
    public string? SnapshotTo { get; init; }

    /// <summary>The device options, in the order they were given.</summary>
    public IReadOnlyList<DeviceOption> Devices { get; init; } = [];

    /// <summary>One entry per <c>--tunnet</c>, in order: the guest's network cards.</summary>
    public IReadOnlyList<TunnetSpec> Tunnets => Devices.Where(d => d.Tunnet is not null).Select(d => d.Tunnet!).ToArray();

    /// <summary>Whether the network cards offer checksum and segmentation offloads (<c>--net-offloads</c>).</summary>
    public bool NetOffloads { get; init; } = true;

    /// <summary>
    /// The block and network devices' longest poll, in microseconds (<c>--poll-us</c>); null for the devices'
    /// default (<see cref="Virtio.PollWindow.DefaultMax"/>).
    /// </summary>
    public int? PollMicroseconds { get; init; }

    /// <summary>The disks' I/O engine (<c>--io-engine</c>); io_uring unless given.</summary>
    public VirtioBlockIoEngine BlockIo { get; init; } = VirtioBlockIoEngine.IoUring;

    /// <summary>Whether the disks serve their requests, the network cards their transmitted frames and vsock its transmit queue on the notifying vCPU (<c>--io-on-vcpu</c>); on unless given.</summary>
    public bool IoOnVcpu { get; init; } = true;

    /// <summary>MEM-IN-MB as typed; <see cref="RunCommand"/> checks it (a bad size is bad input, not bad usage).</summary>
    public string Memory { get; init; } = "";

    public string Kernel { get; init; } = "";

    public IReadOnlyList<string> KernelArguments { get; init; } = [];

    /// <summary>The kernel arguments joined by single spaces, as the seed's concat() did.</summary>
    public string CommandLine => string.Join(' ', KernelArguments);

    /// <summary>
    /// Whether the kernel's console is a virtio console: its last <c>console=</c> (the one /dev/console
    /// follows) names an hvc device, as in the seed's <c>console=hvc0</c>. The keyboard goes there.
    /// </summary>
    public bool KernelConsoleIsVirtio
    {
        get
        {
            string? last = CommandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .LastOrDefault(word => word.StartsWith("console=", StringComparison.Ordinal));
            return last is not null && last["console=".Length..].StartsWith("hvc", StringComparison.Ordinal);
        }
    }

    /// <summary>Parses <paramref name="args"/>; on failure <paramref name="error"/> says what is wrong in one line.</summary>
    public static bool TryParse(IReadOnlyList<string> args, out RunArguments parsed, out string? error)
    {
        parsed = new RunArguments();
        error = null;
        var positional = new List<string>();
        var kernelArguments = new List<string>();
        var devices = new List<DeviceOption>();
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
                (afterKernel ? kernelArguments : positional).Add(arg);
                continue;
            }
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                // Short options: -v (repeatable, -vv) and -h.
                string letters = arg[1..];
                if (letters.All(c => c is 'v' or 'h'))
                {
                    if (letters.Contains('h', StringComparison.Ordinal))
                    {
                        parsed = parsed with { Help = true };
                        return true;
                    }
                    parsed = parsed with { Verbose = true };
                    continue;
                }
                if (afterKernel)
                {
                    kernelArguments.Add(arg); // "-s" and the like: the kernel's
                    continue;
                }
                error = $"invalid option -- '{letters.First(c => c is not ('v' or 'h'))}'";
                return false;
            }

            string typed = arg[2..], value = "";
            bool hasValue = false;
            int equals = typed.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                value = typed[(equals + 1)..];
                typed = typed[..equals];
                hasValue = true;
            }
            if (!TryFindOption(typed, out string? name, out bool takesValue, out string? ambiguity))
            {
                if (ambiguity is not null)
                {
                    error = ambiguity;
                    return false;
                }
                if (afterKernel)
                {
                    kernelArguments.Add(arg); // not ours: the kernel's (or init's)
                    continue;
                }
                error = $"unrecognized option '--{typed}'";
                return false;
            }
            if (!takesValue && hasValue)
            {
                error = $"option '--{name}' doesn't allow an argument";
                return false;
            }
            if (takesValue && !hasValue)
            {
                if (i + 1 >= args.Count)
                {
                    error = $"option '--{name}' requires an argument";
                    return false;
                }
                value = args[++i];
            }
            if (name == "help")
            {
                parsed = parsed with { Help = true };
                return true;
            }
            if (!TryApply(ref parsed, devices, name, value, out error))
                return false;
        }
        if (parsed.Restore is not null && (parsed.ApiSocket is not null || parsed.ConfigFile is not null))
        {
            error = "--restore is not taken with --api-sock or --config-file yet: restore with the command line alone";
            return false;
        }
        if (parsed.VerifyMemory && parsed.Restore is null)
        {
            error = "--verify-memory checks a snapshot's memory: it is taken only with --restore";
            return false;
        }
        if (parsed.Restore is not null)
        {
            if (positional.Count > 0 || kernelArguments.Count > 0)
            {
                error = "--restore takes no <mem-in-mb>, vmlinux or kernel arguments: the snapshot holds the guest";
                return false;
            }
            parsed = parsed with { Devices = devices };
            return true;
        }
        if (parsed.ConfigFile is not null && positional.Count > 0)
        {
            error = "--config-file gives the machine: <mem-in-mb> and vmlinux are not taken with it";
            return false;
        }
        if (positional.Count == 0 && (parsed.ApiSocket is not null || parsed.ConfigFile is not null))
        {
            // Configured through the API socket (Firecracker's way) or by the file.
            parsed = parsed with { Devices = devices };
            return true;
        }
        if (positional.Count < 2)
        {
            error = positional.Count == 0 ? "missing <mem-in-mb> and vmlinux" : "missing vmlinux";
            return false;
        }
        parsed = parsed with { Memory = positional[0], Kernel = positional[1], KernelArguments = kernelArguments, Devices = devices };
        return true;
    }

    /// <summary>
    /// <c>--vsock=PATH[:CID]</c>: a trailing <c>:</c> and decimal digits is the guest's CID (3 to 2^32 - 2), the rest
    /// the socket's path (<c>./a:1</c> is the path <c>./a</c> with CID 1, refused; a path ending in <c>:digits</c>
    /// needs a CID after it).
    /// </summary>
    private static bool TryParseVsock(string value, out string? path, out ulong cid, out string? error)
    {
        path = value;
        cid = VirtioVsockOptions.DefaultGuestCid;
        error = null;
        int colon = value.LastIndexOf(':');
        if (colon >= 0 && colon < value.Length - 1 && value.AsSpan(colon + 1).IndexOfAnyExceptInRange('0', '9') < 0)
        {
            path = value[..colon];
            if (!ulong.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out cid)
                || cid < 3 || cid > VirtioVsockOptions.MaxGuestCid)
            {
                error = $"--vsock '{value}': the guest CID is not a number from 3 to {VirtioVsockOptions.MaxGuestCid}";
                return false;
            }
        }
        try
        {
            new VirtioVsockOptions { UnixSocketPath = path, GuestCid = cid }.Validate();
        }
        catch (ArgumentException e)
        {
            error = $"--vsock '{value}': {e.Message.Split(" (Parameter", 2)[0]}";
            return false;
        }
        return true;
    }

    /// <summary>An exact option name, or the only one <paramref name="typed"/> abbreviates (getopt_long's rule).</summary>
    private static bool TryFindOption(string typed, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? name, out bool takesValue, out string? ambiguity)
    {
        name = null;
        takesValue = false;
        ambiguity = null;
        if (typed.Length == 0)
            return false;
        foreach ((string n, bool v) in LongOptions)
        {
            if (n == typed)
            {
                (name, takesValue) = (n, v);
                return true;
            }
        }
        string[] candidates = LongOptions.Where(o => o.Name.StartsWith(typed, StringComparison.Ordinal)).Select(o => o.Name).ToArray();
        if (candidates.Length == 1)
        {
            string only = candidates[0];
            name = only;
            takesValue = LongOptions.First(o => o.Name == only).TakesValue;
            return true;
        }
        if (candidates.Length > 1)
            ambiguity = $"option '--{typed}' is ambiguous; possibilities: {string.Join(' ', candidates.Select(c => "'--" + c + "'"))}";
        return false;
    }

    private static bool TryApply(ref RunArguments parsed, List<DeviceOption> devices, string name, string value, out string? error)
    {
        error = null;
        // The seed's getopt loop let a second --initrd (or --username, --chroot) silently replace the first; one
        // of the two is a mistake, so say so rather than guess which.
        string? earlier = name switch
        {
            "initrd" => parsed.Initrd,
            "username" => parsed.Username,
            "chroot" => parsed.Chroot,
            "restore" => parsed.Restore,
            "snapshot-to" => parsed.SnapshotTo,
            "api-sock" => parsed.ApiSocket,
            "config-file" => parsed.ConfigFile,
            _ => null,
        };
        if (earlier is not null)
        {
            error = $"--{name} given twice ('{earlier}', then '{value}')";
            return false;
        }
        switch (name)
        {
            case "verbose":
                parsed = parsed with { Verbose = true };
                return true;
            case "verify-memory":
                parsed = parsed with { VerifyMemory = true };
                return true;
            case "strict":
                parsed = parsed with { Strict = true };
                return true;
            case "no-reboot":
                parsed = parsed with { NoReboot = true };
                return true;
            case "jail":
                parsed = parsed with { Jail = true };
                return true;
            case "rng":
                devices.Add(new DeviceOption(DeviceKind.Rng, null));
                return true;
            case "vsock":
                if (devices.Any(d => d.Kind == DeviceKind.Vsock))
                {
                    error = "--vsock given twice (a guest drives one vsock device)";
                    return false;
                }
                if (!TryParseVsock(value, out string? socket, out ulong cid, out error))
                    return false;
                devices.Add(new DeviceOption(DeviceKind.Vsock, socket, GuestCid: cid));
                return true;
            case "block":
            {
                // ro:FILE, in the manner of --tunnet's bridge:NAME; every file stays reachable (./ro:x is the file "ro:x").
                bool readOnly = value.StartsWith(ReadOnlyBlockPrefix, StringComparison.Ordinal);
                string image = readOnly ? value[ReadOnlyBlockPrefix.Length..] : value;
                if (image.Length == 0)
                {
                    error = "--block needs a file name";
                    return false;
                }
                devices.Add(new DeviceOption(DeviceKind.Block, image, ReadOnly: readOnly));
                return true;
            }
            case "share":
                return TryAddShare(devices, value, out error);
            case "tunnet":
                if (!TunnetSpec.TryParse(value, out TunnetSpec? spec, out string? why))
                {
                    error = $"--tunnet '{value}': {why}";
                    return false;
                }
                devices.Add(new DeviceOption(DeviceKind.Tunnet, value, spec));
                return true;
            case "net-offloads":
                if (value is not ("on" or "off"))
                {
                    error = $"--net-offloads '{value}' is not on or off";
                    return false;
                }
                parsed = parsed with { NetOffloads = value == "on" };
                return true;
            case "io-on-vcpu":
                if (value is not ("on" or "off"))
                {
                    error = $"--io-on-vcpu '{value}' is not on or off";
                    return false;
                }
                parsed = parsed with { IoOnVcpu = value == "on" };
                return true;
            case "io-engine":
                VirtioBlockIoEngine? engine = value switch
                {
                    "io_uring" => VirtioBlockIoEngine.IoUring,
                    "threads" => VirtioBlockIoEngine.Threads,
                    "sync" => VirtioBlockIoEngine.Sync,
                    _ => null,
                };
                if (engine is null)
                {
                    error = $"--io-engine '{value}' is not io_uring, threads or sync";
                    return false;
                }
                parsed = parsed with { BlockIo = engine.Value };
                return true;
            case "poll-us":
            {
                int limit = (int)Virtio.PollWindow.MaxLimit.TotalMicroseconds;
                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int microseconds) || microseconds > limit)
                {
                    error = $"--poll-us '{value}' is not a number of microseconds from 0 to {limit}";
                    return false;
                }
                parsed = parsed with { PollMicroseconds = microseconds };
                return true;
            }
            case "initrd":
                if (value.Length == 0)
                {
                    error = "--initrd needs a file name";
                    return false;
                }
                parsed = parsed with { Initrd = value };
                return true;
            case "username":
                if (value.Length == 0)
                {
                    error = "--username needs a user name";
                    return false;
                }
                parsed = parsed with { Username = value };
                return true;
            case "api-sock":
            case "config-file":
                if (value.Length == 0)
                {
                    error = $"--{name} needs a file name";
                    return false;
                }
                parsed = name == "api-sock" ? parsed with { ApiSocket = value } : parsed with { ConfigFile = value };
                return true;
            case "chroot":
                if (value.Length == 0)
                {
                    error = "--chroot needs a directory";
                    return false;
                }
                parsed = parsed with { Chroot = value };
                return true;
            case "restore" or "snapshot-to":
                if (value.Length == 0)
                {
                    error = $"--{name} needs a directory";
                    return false;
                }
                parsed = name == "restore" ? parsed with { Restore = value } : parsed with { SnapshotTo = value };
                return true;
            case "seccomp":
                if (value is not ("on" or "off" or "log"))
                {
                    error = $"--seccomp '{value}' is not one of on, off, log";
                    return false;
                }
                parsed = parsed with
                {
                    Seccomp = value switch { "on" => Lguest.Seccomp.SeccompMode.On, "off" => Lguest.Seccomp.SeccompMode.Off, _ => Lguest.Seccomp.SeccompMode.Log },
                };
                return true;
            case "cpus":
                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int cpus) || cpus < 1 || cpus > Machine.LauncherOptions.MaxCpus)
                {
                    error = $"--cpus '{value}' is not a number from 1 to {Machine.LauncherOptions.MaxCpus}";
                    return false;
                }
                parsed = parsed with { Cpus = cpus };
                return true;
            default: // backend
                if (value is not ("auto" or "kvm" or "lguest"))
                {
                    error = $"--backend '{value}' is not one of auto, kvm, lguest";
                    return false;
                }
                parsed = parsed with { Backend = value };
                return true;
        }
    }

    /// <summary>
    /// <c>--share=DIR:TAG[:ro]</c>: the tag is what follows the last ':' (after a trailing ":ro" is taken off),
    /// so DIR may hold ':' itself; a tag names one share only.
    /// </summary>
    private static bool TryAddShare(List<DeviceOption> devices, string value, out string? error)
    {
        error = null;
        bool readOnly = value.EndsWith(ReadOnlyShareSuffix, StringComparison.Ordinal);
        string rest = readOnly ? value[..^ReadOnlyShareSuffix.Length] : value;
        int colon = rest.LastIndexOf(':');
        string folder = colon < 0 ? "" : rest[..colon], tag = colon < 0 ? "" : rest[(colon + 1)..];
        if (folder.Length == 0 || tag.Length == 0)
            error = $"--share '{value}' is not <dir>:<tag>[:ro]";
        else if (System.Text.Encoding.UTF8.GetByteCount(tag) > VirtioFsOptions.MaxTagBytes)
            error = $"--share '{value}': the tag '{tag}' is longer than {VirtioFsOptions.MaxTagBytes} bytes";
        else if (devices.Any(d => d.Kind == DeviceKind.Share && d.Tag == tag))
            error = $"--share '{value}': the tag '{tag}' is already used by another --share";
        if (error is not null)
            return false;
        devices.Add(new DeviceOption(DeviceKind.Share, folder, ReadOnly: readOnly, Tag: tag));
        return true;
    }
}
