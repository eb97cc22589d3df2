using System.Runtime.InteropServices;
using Lguest.Boot;
using Lguest.Devices;
using Lguest.Hypervisor;
using Lguest.Machine;
using Lguest.Seccomp;
using Lguest.Memory;
using Lguest.Terminal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Lguest.Cli;

/// <summary>Runs one guest from parsed arguments: compose the container, run the launcher, map the outcome to an exit code.</summary>
internal static class RunCommand
{
    /// <summary>Runs the guest on this process's terminal and the backend <c>--backend</c> names.</summary>
    public static ExitCode Execute(RunArguments arguments, TextWriter error) =>
        Execute(arguments, RunEnvironment.Process(error));

    /// <summary>Runs the guest on <paramref name="environment"/>, on <paramref name="given"/> (null: the one <c>--backend</c> names).</summary>
    /// <param name="arguments">The machine.</param>
    /// <param name="environment">The console and where errors go.</param>
    /// <param name="given">The backend; null for the one <c>--backend</c> names.</param>
    /// <param name="onLauncher">Called with the launcher before it runs (the API socket drives it).</param>
    public static ExitCode Execute(RunArguments arguments, RunEnvironment environment, HypervisorBackend? given = null, Action<Launcher>? onLauncher = null)
    {
        TextWriter error = environment.Error;
        if (arguments.Restore is not null)
        {
            // The snapshot says the guest's RAM and vCPUs (and the disks' queues follow the vCPUs); read and checked
            // now, so a bad one is one line before anything is built.
            if (!SnapshotSignal.TryReadMachine(arguments.Restore, out MachineSnapshot? snapshot, out string? snapshotError))
                return Fail(error, snapshotError, ExitCode.BadInput);
            if (SnapshotSignal.MissingDisk(arguments) is { } missing)
                return Fail(error, missing, ExitCode.BadInput);
            DiskLockWait.ForDisks(arguments, error);
            arguments = arguments with { Cpus = snapshot.CpuCount, Memory = (snapshot.MemoryBytes >> 20).ToString(System.Globalization.CultureInfo.InvariantCulture) };
        }
        if (!TryCheckMemory(arguments.Memory, out ulong memoryBytes, out string? memoryError))
            return Fail(error, memoryError, ExitCode.BadInput);
        // The library's choice (auto: /dev/lguest if it opens, else KVM), made now to know the machine; the backend
        // itself opens when the machine starts, and a host that cannot run guests says so there.
        using HypervisorBackend? chosen = given is null ? HypervisorBackend.Choose(KindOf(arguments.Backend)) : null;
        HypervisorBackend backend = given ?? chosen!;
        MachineProfile profile = backend.Profile;
        if (arguments.Cpus > profile.MaxCpus)
            return Fail(error, $"the {profile.Name} machine has {profile.MaxCpus} vCPU(s); --cpus={arguments.Cpus} is too many", ExitCode.BadInput);
        // A restored guest booted long ago with the arguments it had: nothing to add, nor to say (the -v line it logged
        // was its logger's first, made on the way to the guest's first instruction).
        RunArguments? withConsole = arguments.Restore is null ? KernelConsoleDefault.TryAdd(arguments, profile.HasSerialConsole) : null;
        arguments = withConsole ?? arguments;
        // A directory exists: the loader says what is wrong with it ("is a directory").
        if (arguments.Restore is null && !File.Exists(arguments.Kernel) && !Directory.Exists(arguments.Kernel))
            return Fail(error, $"kernel '{arguments.Kernel}' not found", ExitCode.BadInput);
        if (arguments.Initrd is not null && !File.Exists(arguments.Initrd) && !Directory.Exists(arguments.Initrd))
            return Fail(error, $"initrd '{arguments.Initrd}' not found", ExitCode.BadInput);
        // Resolved now, from the host's databases and file system: the seed looked the user up while parsing.
        HostUser? user = null;
        if (arguments.Username is not null && !HostUser.TryResolve(arguments.Username, out user, out string? userError))
            return Fail(error, userError, ExitCode.BadInput);
        if (arguments.Chroot is not null && !Directory.Exists(arguments.Chroot))
            return Fail(error, $"--chroot: '{arguments.Chroot}' is not a directory", ExitCode.BadInput);


        using var stop = new CancellationTokenSource();
        int signal = 0;
        using RawTerminal? terminal = environment.OwnsTerminal ? RawTerminal.TryEnter() : null;
        Stream input = environment.Input;
        if (terminal is not null)
        {
            // The seed's three Ctrl-C within a second end the launcher as a Ctrl-C would (SIGINT); Ctrl-A x stops the guest.
            input = new ConsoleEscapeStream(input, onEscape: stop.Cancel, onAbort: () =>
            {
                signal = 2;
                stop.Cancel();
            });
        }
        using PosixSignalRegistration? sigterm = environment.OwnsTerminal ? PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => OnSignal(c, 15)) : null;
        using PosixSignalRegistration? sigint = environment.OwnsTerminal ? PosixSignalRegistration.Create(PosixSignal.SIGINT, c => OnSignal(c, 2)) : null;
        using PosixSignalRegistration? sighup = environment.OwnsTerminal ? PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => OnSignal(c, 1)) : null;

        var services = new ServiceCollection();
        AddLogging(services, arguments.Verbose ? LogLevel.Information : LogLevel.Warning);
        services.AddHypervisor(backend);
        if (arguments.Restore is null)
            services.AddKernel(arguments.Kernel, arguments.Initrd, arguments.CommandLine);
        // The console is device 1, as in the seed. The keyboard goes to the machine's serial console when it has
        // one (COM1 on the PC, for console=ttyS0), unless the kernel's console is this one (console=hvc0, the
        // seed's usage), and else to this one: wherever the guest's shell reads.
        bool keysToUart = profile.HasSerialConsole && !arguments.KernelConsoleIsVirtio;
        services.AddVirtioConsole(o =>
        {
            o.Input = keysToUart ? Stream.Null : input;
            o.Output = environment.Output;
        });
        foreach (DeviceOption device in arguments.Devices)
            AddDevice(services, device, arguments);
        services.AddLguest(o =>
        {
            o.MemoryBytes = memoryBytes;
            o.CpuCount = arguments.Cpus;
            o.NoReboot = arguments.NoReboot;
            o.StrictDrivers = arguments.Strict;
            o.RestoreFrom = arguments.Restore;
            o.RestoreVerification = arguments.VerifyMemory ? ImageVerification.Full : ImageVerification.Sample;
            o.RestorePaused = arguments.RestorePaused;
            o.ConsoleInput = keysToUart ? input : null;
            o.ConsoleOutput = profile.HasSerialConsole ? environment.Output : null;
            o.BeforeFirstRun = () => Confine(arguments, user, environment.OwnsProcess);
        });

        try
        {
            GuestExit exit;
            using (ServiceProvider provider = services.BuildServiceProvider())
            {
                if (withConsole is not null)
                    provider.GetRequiredService<ILoggerFactory>().CreateLogger("Lguest.Cli").AddedKernelConsole(KernelConsoleDefault.SerialConsole);
                Launcher launcher = provider.GetRequiredService<Launcher>();
                using IDisposable? snapshotSignal = arguments.SnapshotTo is { } to ? SnapshotSignal.Register(launcher, to, error) : null;
                onLauncher?.Invoke(launcher);
                exit = launcher.Run(stop.Token);
            }
            terminal?.Dispose();
            if (signal != 0)
                return (ExitCode)(128 + signal);
            return Report(exit, arguments.Verbose, error);
        }
        catch (HostUnavailableException e)
        {
            terminal?.Dispose();
            return Fail(error, e.Message, ExitCode.HostUnavailable);
        }
        catch (TapException e)
        {
            // The container's disposal above has already removed every tap this run created.
            terminal?.Dispose();
            return Fail(error, e.Message, e.IsHostUnavailable ? ExitCode.HostUnavailable : ExitCode.BadInput);
        }
        catch (Exception e) when (e is KernelImageException or GuestMemoryException or DiskImageException or SharedDirectoryException or VsockException
            or Snapshot.SnapshotException)
        {
            terminal?.Dispose();
            return Fail(error, e.Message, ExitCode.BadInput);
        }
        catch (LguestException e)
        {
            terminal?.Dispose();
            return Fail(error, arguments.Verbose ? e.ToString() : e.Message, ExitCode.Failure);
        }

        void OnSignal(PosixSignalContext context, int number)
        {
            context.Cancel = true; // stop the guest and restore the terminal instead of dying at once
            signal = number;
            stop.Cancel();
        }
    }

    /// <summary>The exit code and message for how the guest ended.</summary>
    internal static ExitCode Report(GuestExit exit, bool verbose, TextWriter error)
    {
        switch (exit.Kind)
        {
            case GuestExitKind.Failed:
            case GuestExitKind.BadDriver:
                // The seed: errx(1, "%s", the Host's reason) and errx(1, "%s: bad driver: ...").
                return Fail(error, exit.Message, ExitCode.Failure);
            case GuestExitKind.TripleFault:
                return Fail(error, exit.Message, ExitCode.GuestFailed);
            default:
                if (verbose || exit.Kind == GuestExitKind.Halted)
                    error.WriteLine($"lguest: {exit.Message}");
                return ExitCode.Ok;
        }
    }

    /// <summary>
    /// Logging to stderr, one line with a timestamp per message (<see cref="SingleLineConsoleFormatter"/>) through the
    /// library's console logger, built on the first message at or above <paramref name="minimum"/> (see
    /// <see cref="DeferredLoggerFactory"/>) and without the logging container (<see cref="CreateConsoleLoggerFactory"/>).
    /// </summary>
    internal static void AddLogging(IServiceCollection services, LogLevel minimum)
    {
        // Created by the container, so disposing the container disposes it and flushes the console logger.
        services.AddSingleton<ILoggerFactory>(_ => new DeferredLoggerFactory(minimum, () => CreateConsoleLoggerFactory(minimum)));
        // What AddLogging adds for ILogger<T>, which device registrations resolve.
        services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
    }

    /// <summary>
    /// The console logger factory, made from its parts: LoggerFactory.Create with AddSimpleConsole built a container
    /// of options whose open generic types the NativeAOT binary closed at run time, the largest cost on the way to a
    /// guest's first instruction under -v (5 ms of the 17 of a restore's CPU on this host; ten times that in the
    /// nested bed).
    /// </summary>
    internal static ILoggerFactory CreateConsoleLoggerFactory(LogLevel minimum)
    {
        var options = new ConsoleLoggerOptions
        {
            FormatterName = SingleLineConsoleFormatter.FormatterName,
            LogToStandardErrorThreshold = LogLevel.Trace,
        };
        var factory = new LoggerFactory([], new LoggerFilterOptions { MinLevel = minimum });
        // Added, not given to the constructor: only then does disposing the factory dispose the provider, which writes
        // out what its queue still holds (the run's last lines).
        factory.AddProvider(new ConsoleLoggerProvider(new FixedConsoleLoggerOptions(options), [new SingleLineConsoleFormatter()]));
        return factory;
    }

    /// <summary>Registers one device option's device with what the run's other options say of it.</summary>
    internal static void AddDevice(IServiceCollection services, DeviceOption device, RunArguments arguments)
    {
        bool netOffloads = arguments.NetOffloads;
        int? pollMicroseconds = arguments.PollMicroseconds;
        switch (device.Kind)
        {
            case DeviceKind.Block:
                services.AddVirtioBlock(o =>
                {
                    o.Path = device.Value!;
                    o.ReadOnly = device.ReadOnly;
                    o.IoEngine = device.IoEngine ?? arguments.BlockIo;
                    o.ServeOnVcpu = arguments.IoOnVcpu;
                    // One request queue per vCPU, as QEMU's virtio-blk has by default: blk-mq maps each CPU to one.
                    o.NumQueues = (ushort)Math.Min(arguments.Cpus, VirtioBlockOptions.MaxNumQueues);
                    if (pollMicroseconds is int blockPoll)
                        o.MaxPollTime = TimeSpan.FromMicroseconds(blockPoll);
                });
                break;
            case DeviceKind.Rng:
                services.AddVirtioRng();
                break;
            case DeviceKind.Share:
                services.AddVirtioFs(device.Value!, device.Tag!, device.ReadOnly);
                break;
            case DeviceKind.Tunnet:
                services.AddVirtioNet(o =>
                {
                    o.Tunnet = device.Tunnet!;
                    o.Offloads = netOffloads;
                    o.TransmitOnVcpu = arguments.IoOnVcpu;
                    if (pollMicroseconds is int netPoll)
                        o.MaxPollTime = TimeSpan.FromMicroseconds(netPoll);
                });
                break;
            case DeviceKind.Tap:
                services.AddVirtioNet(o =>
                {
                    o.TapName = device.Value;
                    o.Mac = device.Mac;
                    o.Offloads = netOffloads;
                    o.TransmitOnVcpu = arguments.IoOnVcpu;
                    if (pollMicroseconds is int tapPoll)
                        o.MaxPollTime = TimeSpan.FromMicroseconds(tapPoll);
                });
                break;
            case DeviceKind.Vsock:
                services.AddVirtioVsock(o =>
                {
                    o.UnixSocketPath = device.Value;
                    o.GuestCid = device.GuestCid;
                    o.ServeOnVcpu = arguments.IoOnVcpu;
                });
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(device), device.Kind, "checked before the container is built");
        }
    }

    private static HypervisorKind KindOf(string backend) => backend switch
    {
        "kvm" => HypervisorKind.Kvm,
        "lguest" => HypervisorKind.Lguest,
        _ => HypervisorKind.Auto, // RunArguments accepts only auto, kvm and lguest
    };

    private static ExitCode Fail(TextWriter error, string message, ExitCode code)
    {
        error.WriteLine($"lguest: {message}");
        return code;
    }

    /// <summary>The guest RAM in bytes, refusing sizes the layout cannot hold or the host does not have.</summary>
    private static bool TryCheckMemory(string text, out ulong bytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        bytes = 0;
        error = null;
        if (!ulong.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ulong mib))
        {
            error = $"memory size '{text}' is not a number of megabytes";
            return false;
        }
        ulong max = LauncherOptions.MaxMemoryBytes >> 20;
        ulong host = HostMemoryBytes();
        if (mib > max || (host > 0 && mib << 20 > host))
        {
            error = host > 0
                ? $"{mib} MiB of guest memory is more than this host's {host >> 20} MiB"
                : $"{mib} MiB of guest memory is more than the {max} MiB the launcher supports";
            return false;
        }
        bytes = mib << 20;
        if (bytes < LauncherOptions.MinMemoryBytes)
        {
            error = $"{mib} MiB of guest memory is too little: a guest needs at least {LauncherOptions.MinMemoryBytes >> 20} MiB";
            return false;
        }
        return true;
    }

    /// <summary>MemTotal from /proc/meminfo, or 0 if unknown.</summary>
    private static ulong HostMemoryBytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                if (!line.StartsWith("MemTotal:", StringComparison.Ordinal))
                    continue;
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return parts.Length >= 2 && ulong.TryParse(parts[1], out ulong kib) ? kib * 1024 : 0;
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }

    /// <summary>
    /// Everything the guest needs from the host is open: chroot, become the user, then (unless --seccomp=off) give
    /// up every capability and allow only the calls the running launcher and its devices make.
    /// </summary>
    private static void Confine(RunArguments arguments, HostUser? user, bool ownsProcess)
    {
        // Kestrel may reach for RandomNumberGenerator (OpenSSL on Linux) while it serves: loaded while files still open.
        if (arguments.ApiSocket is not null)
            ProcessConfinement.LoadRandomNumberGenerator();
        ProcessConfinement.Apply(arguments.Chroot, user);
        if (arguments.Seccomp == SeccompMode.Off || !ownsProcess)
            return;
        ProcessConfinement.DropCapabilities();
        LauncherFeatures features = LauncherFeatures.None;
        if (arguments.Devices.Any(d => d.Kind == DeviceKind.Share))
            features |= LauncherFeatures.SharedFolders;
        if (arguments.Devices.Any(d => d.Kind == DeviceKind.Vsock))
            features |= LauncherFeatures.UnixSocketConnections | LauncherFeatures.ControlSocket;
        // The API's PUT /snapshot/create writes one as --snapshot-to's signal does.
        if (arguments.SnapshotTo is not null || arguments.ApiSocket is not null)
            features |= LauncherFeatures.Snapshots;
        if (arguments.ApiSocket is not null)
            features |= LauncherFeatures.ControlSocket;
        SeccompFilter.Install(SeccompPolicy.ForLauncher(features), arguments.Seccomp);
        SeccompSelfTest.ArmIfAsked();
    }
}
