using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Platform;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Machine;

/// <summary>
/// One boot: its memory, VM, devices and vCPU threads. The first stop request (a power event from a
/// device or vCPU, a failure, the host) wins; every vCPU is then kicked out of the guest and joined.
/// </summary>
internal sealed class MachineSession : IPowerControl, IDisposable
{
    private readonly IHypervisor _hypervisor;
    private readonly MachineProfile _profile;
    private readonly GuestMemoryLayout _layout;
    private readonly LauncherOptions _options;
    private readonly IPlatformDeviceFactory[] _factories;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly SerialConsole? _console;
    private readonly IoBus _portBus = new("pio");
    private readonly IoBus _mmioBus = new("mmio");
    private readonly ManualResetEventSlim _stopped = new();
    private readonly List<IVcpu> _vcpus = [];
    private readonly List<Thread> _threads = [];
    private GuestMemory? _memory;
    private IVirtualMachine? _machine;
    private PlatformContext? _context;
    private GuestExit? _exit;

    public MachineSession(IHypervisor hypervisor, MachineProfile profile, GuestMemoryLayout layout, LauncherOptions options,
        IPlatformDeviceFactory[] factories, ILoggerFactory loggerFactory, SerialConsole? console)
    {
        _hypervisor = hypervisor;
        _profile = profile;
        _layout = layout;
        _options = options;
        _factories = factories;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<Launcher>();
        _console = console;
    }

    /// <summary>Called on vCPU 0's thread just before the guest's first instruction.</summary>
    public Action? FirstEntry { get; set; }

    public void Build(IBootImage image)
    {
        _memory = _profile.Allocate(_layout);
        _machine = _hypervisor.CreateVirtualMachine(_memory, _portBus, _mmioBus);
        var pci = new PciBus(_machine, _mmioBus, new PciBusOptions { InterruptLines = _profile.PciInterruptLines },
            _loggerFactory.CreateLogger<PciBus>());
        var virtio = new VirtioPciTransportOptions
        {
            Strict = _options.StrictDrivers,
            Fatal = _options.StrictDrivers ? e => Stop(new GuestExit(GuestExitKind.BadDriver, e.Message)) : null,
        };
        _context = new PlatformContext(_machine, _portBus, _mmioBus, pci, this, _options.CpuCount, _loggerFactory,
            _profile, virtio, _options.ConsoleOutput, _console);
        _profile.AddPlatformDevices(_context);
        foreach (IPlatformDeviceFactory factory in _factories)
            factory.Create(_context);

        GuestAddress? rsdp = _profile.WriteFirmwareTables(_context);
        BootState boot = image.Load(_memory, new BootTarget(_profile.BootPlatform, rsdp));
        if (_logger.IsEnabled(LogLevel.Information))
            _logger.Booting(_options.MemoryBytes >> 20, _options.CpuCount, _hypervisor.Name, _profile.Name, boot.Entry.ToString(), boot.Mode.ToString());
        for (int i = 0; i < _options.CpuCount; i++)
            _vcpus.Add(_machine.CreateVcpu(i, i == 0 ? boot : null));
    }

    public GuestExit Run(CancellationToken cancellation)
    {
        using CancellationTokenRegistration registration =
            cancellation.Register(() => Stop(new GuestExit(GuestExitKind.Stopped, "stopped by the host")));
        foreach (IVcpu vcpu in _vcpus)
        {
            var thread = new Thread(() => RunVcpu(vcpu)) { Name = $"vCPU {vcpu.Index}", IsBackground = true };
            _threads.Add(thread);
            thread.Start();
        }
        _console?.Start();
        _stopped.Wait(CancellationToken.None);
        JoinVcpus();
        return _exit!;
    }

    public void RequestPowerOff() => Stop(new GuestExit(GuestExitKind.PowerOff, "the guest powered off"));

    public void RequestReset() => Stop(new GuestExit(GuestExitKind.Reset, "the guest asked for a reset"));

    /// <summary>Ends the boot with <paramref name="exit"/> unless it already ended; safe from any thread.</summary>
    public void Stop(GuestExit exit)
    {
        if (Interlocked.CompareExchange(ref _exit, exit, null) is not null)
            return;
        foreach (IVcpu vcpu in _vcpus.ToArray())
            vcpu.RequestExit();
        _stopped.Set();
    }

    public void Dispose()
    {
        _console?.Attach(null);
        _context?.DisposeResources();
        foreach (IVcpu vcpu in _vcpus)
            vcpu.Dispose();
        _machine?.Dispose();
        _memory?.Dispose();
        _stopped.Dispose();
    }

    private void RunVcpu(IVcpu vcpu)
    {
        try
        {
            if (vcpu.Index == 0)
                FirstEntry?.Invoke();
            while (_exit is null)
            {
                VcpuExit exit = vcpu.Run();
                switch (exit.Reason)
                {
                    case VcpuExitReason.IoIn:
                        if (!_portBus.TryRead(exit.Address, exit.Data))
                        {
                            exit.Data.Fill(0xFF);
                            _logger.Unclaimed("pio", "read", exit.Address, exit.Data.Length);
                        }
                        break;
                    case VcpuExitReason.IoOut:
                        if (!_portBus.TryWrite(exit.Address, exit.Data))
                            _logger.Unclaimed("pio", "write", exit.Address, exit.Data.Length);
                        break;
                    case VcpuExitReason.MmioRead:
                        if (!_mmioBus.TryRead(exit.Address, exit.Data))
                        {
                            exit.Data.Fill(0xFF);
                            _logger.Unclaimed("mmio", "read", exit.Address, exit.Data.Length);
                        }
                        break;
                    case VcpuExitReason.MmioWrite:
                        if (!_mmioBus.TryWrite(exit.Address, exit.Data))
                            _logger.Unclaimed("mmio", "write", exit.Address, exit.Data.Length);
                        break;
                    case VcpuExitReason.Interrupted:
                        break; // the loop condition decides
                    case VcpuExitReason.Halt:
                        Stop(new GuestExit(GuestExitKind.Halted, $"vCPU {vcpu.Index} halted with nothing to wake it"));
                        break;
                    case VcpuExitReason.Shutdown:
                        Stop(new GuestExit(GuestExitKind.TripleFault, exit.Detail ?? $"vCPU {vcpu.Index} triple-faulted"));
                        break;
                    case VcpuExitReason.Reset:
                        RequestReset();
                        break;
                    case VcpuExitReason.PowerOff:
                        RequestPowerOff();
                        break;
                    default:
                        Stop(new GuestExit(GuestExitKind.Failed, exit.Detail ?? $"vCPU {vcpu.Index} failed"));
                        break;
                }
            }
        }
        catch (LguestException e)
        {
            Stop(new GuestExit(GuestExitKind.Failed, $"vCPU {vcpu.Index}: {e.Message}"));
        }
#pragma warning disable CA1031 // a device bug must end the guest with its reason, not kill the process silently
        catch (Exception e)
#pragma warning restore CA1031
        {
            Stop(new GuestExit(GuestExitKind.Failed, $"vCPU {vcpu.Index}: internal error: {e}"));
        }
    }

    private void JoinVcpus()
    {
        foreach (Thread thread in _threads)
        {
            // A vCPU may be inside a device call when the kick lands; kick again until it leaves.
            while (!thread.Join(TimeSpan.FromMilliseconds(100)))
            {
                foreach (IVcpu vcpu in _vcpus)
                    vcpu.RequestExit();
            }
        }
    }
}
