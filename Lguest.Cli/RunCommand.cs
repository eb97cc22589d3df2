using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Lguest.Boot;
using Lguest.Devices;
using Lguest.DevLguest;
using Lguest.Hypervisor;
using Lguest.Kvm;
using Lguest.Machine;
using Lguest.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Lguest.Cli;

/// <summary>Runs one guest from parsed arguments: compose the container, run the launcher, map the outcome to an exit code.</summary>
internal static class RunCommand
{
    public static ExitCode Execute(RunArguments arguments, TextWriter error)
    {
        if (arguments.Backend == "lguest")
        {
            // The /dev/lguest backend exists, but the launcher builds only the PC machine so far: say which is missing.
            if (!LguestHypervisor.TryOpen(out LguestHypervisor? lguest, out string? whyNot))
            {
                error.WriteLine($"lguest: {whyNot}");
                return ExitCode.HostUnavailable;
            }
            lguest.Dispose();
            error.WriteLine("lguest: /dev/lguest is here, but the launcher cannot build an lguest machine yet; use --backend=kvm");
            return ExitCode.HostUnavailable;
        }
        if (!TryCheckMemory(arguments.Memory, out ulong memoryBytes, out string? memoryError))
        {
            error.WriteLine($"lguest: {memoryError}");
            return ExitCode.BadInput;
        }
        if (!File.Exists(arguments.Kernel))
        {
            error.WriteLine($"lguest: kernel '{arguments.Kernel}' not found");
            return ExitCode.BadInput;
        }
        if (arguments.Initrd is not null && !File.Exists(arguments.Initrd))
        {
            error.WriteLine($"lguest: initrd '{arguments.Initrd}' not found");
            return ExitCode.BadInput;
        }

        using var stop = new CancellationTokenSource();
        int signal = 0;
        using var terminal = RawTerminal.TryEnter();
        // Plain reads and writes of fds 0 and 1: System.Console's terminal stream would echo and line-edit
        // the input itself (and switch the keypad mode), which a guest's own shell must do instead.
        Stream input = new FileStream(new SafeFileHandle(0, ownsHandle: false), FileAccess.Read, bufferSize: 0);
        Stream output = new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);
        if (terminal is not null)
            input = new ConsoleEscapeStream(input, stop.Cancel);
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => OnSignal(c, 15));
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => OnSignal(c, 2));
        using PosixSignalRegistration sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => OnSignal(c, 1));

        var services = new ServiceCollection();
        services.AddLogging(logging =>
        {
            logging.SetMinimumLevel(arguments.Verbose ? LogLevel.Information : LogLevel.Warning);
            logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
            logging.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        });
        services.AddKvm();
        services.AddSingleton<IBootImage>(new KernelBootImage(arguments.Kernel, arguments.Initrd, arguments.CommandLine));
        services.AddLguest(o =>
        {
            o.MemoryBytes = memoryBytes;
            o.CpuCount = arguments.Cpus;
            o.NoReboot = arguments.NoReboot;
            o.ConsoleInput = input;
            o.ConsoleOutput = output;
        });
        foreach (TunnetSpec tunnet in arguments.Tunnets)
            services.AddVirtioNet(tunnet);

        try
        {
            using ServiceProvider provider = services.BuildServiceProvider();
            Launcher launcher = provider.GetRequiredService<Launcher>();
            GuestExit exit = launcher.Run(stop.Token);
            terminal?.Dispose();
            if (signal != 0)
                return (ExitCode)(128 + signal);
            if (!exit.IsClean)
            {
                error.WriteLine($"lguest: {exit.Message}");
                return ExitCode.GuestFailed;
            }
            if (arguments.Verbose || exit.Kind == GuestExitKind.Halted)
                error.WriteLine($"lguest: {exit.Message}");
            return ExitCode.Ok;
        }
        catch (HypervisorException e) when (e.Errno != 0 && e.Message.StartsWith("cannot open", StringComparison.Ordinal))
        {
            terminal?.Dispose();
            error.WriteLine($"lguest: {e.Message}");
            return ExitCode.HostUnavailable;
        }
        catch (TapException e)
        {
            // The container's disposal above has already removed every tap this run created.
            terminal?.Dispose();
            error.WriteLine($"lguest: {e.Message}");
            return e.IsHostUnavailable ? ExitCode.HostUnavailable : ExitCode.BadInput;
        }
        catch (KernelImageException e)
        {
            terminal?.Dispose();
            error.WriteLine($"lguest: {e.Message}");
            return ExitCode.BadInput;
        }
        catch (GuestMemoryException e)
        {
            terminal?.Dispose();
            error.WriteLine($"lguest: {e.Message}");
            return ExitCode.BadInput;
        }
        catch (LguestException e)
        {
            terminal?.Dispose();
            error.WriteLine($"lguest: {(arguments.Verbose ? e.ToString() : e.Message)}");
            return ExitCode.Failure;
        }

        void OnSignal(PosixSignalContext context, int number)
        {
            context.Cancel = true; // stop the guest and restore the terminal instead of dying at once
            signal = number;
            stop.Cancel();
        }
    }

    /// <summary>The guest RAM in bytes, refusing sizes the layout cannot hold or the host does not have.</summary>
    private static bool TryCheckMemory(string text, out ulong bytes, out string? error)
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
            error = $"{mib} MiB of guest memory is too little: a PC guest needs at least {LauncherOptions.MinMemoryBytes >> 20} MiB";
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
}
