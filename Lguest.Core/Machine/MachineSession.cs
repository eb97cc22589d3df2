using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Platform;
using Microsoft.Extensions.Logging;

namespace Lguest.Machine;

/// <summary>
/// One boot: its memory, VM, devices and vCPU threads. The first stop request (a power event from a
/// device or vCPU, a failure, the host) wins; every vCPU is then kicked out of the guest and joined.
/// </summary>
internal sealed class MachineSession : IPowerControl, IDisposable
{
    private readonly IHypervisor _hypervisor;
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
    private Uart16550? _uart;
    private GuestExit? _exit;

    public MachineSession(IHypervisor hypervisor, GuestMemoryLayout layout, LauncherOptions options,
        IPlatformDeviceFactory[] factories, ILoggerFactory loggerFactory, SerialConsole? console)
    {
        _hypervisor = hypervisor;
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
        _memory = GuestMemory.Allocate(_layout);
        _machine = _hypervisor.CreateVirtualMachine(_memory, _portBus, _mmioBus);
        var pci = new PciBus(_machine, _mmioBus, logger: _loggerFactory.CreateLogger<PciBus>());
        _context = new PlatformContext(_machine, _portBus, _mmioBus, pci, this, _options.CpuCount, _loggerFactory);
        AddPcDevices(pci);
        foreach (IPlatformDeviceFactory factory in _factories)
            factory.Create(_context);

        IEnumerable<int> pciIrqs = pci.InterruptRoutes.Select(r => r.Gsi);
        GuestAddress rsdp = AcpiTables.Write(_memory, _options.CpuCount, pciIrqs.Concat(PciBusOptions.LegacyInterruptLines));
        BootState boot = image.Load(_memory, rsdp);
        if (_logger.IsEnabled(LogLevel.Information))
            _logger.Booting(_options.MemoryBytes >> 20, _options.CpuCount, _hypervisor.Name, boot.Entry.ToString(), boot.Mode.ToString());
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
        _uart?.Close();
        _context?.DisposeResources();
        foreach (IVcpu vcpu in _vcpus)
            vcpu.Dispose();
        _machine?.Dispose();
        _memory?.Dispose();
        _stopped.Dispose();
    }

    private void AddPcDevices(PciBus pci)
    {
        _uart = new Uart16550(_machine!.GetInterruptLine(Uart16550.Com1Irq), _options.ConsoleOutput);
        _portBus.Register(Uart16550.Com1Port, Uart16550.PortCount, _uart);
        _console?.Attach(_uart);
        _portBus.Register(PostCodePort.Port, 1, new PostCodePort());
        _portBus.Register(I8042Controller.DataPort, I8042Controller.PortCount, new I8042Controller(this));
        _portBus.Register(AcpiPmRegisters.EventBlockPort, AcpiPmRegisters.PortCount, new AcpiPmRegisters(this));
        ulong below4G = 0;
        foreach (GuestMemoryRegion region in _layout.Regions)
            below4G += region.Start.Value < GuestMemoryLayout.FourGiB ? region.Size : 0;
        _portBus.Register(CmosRtc.IndexPort, CmosRtc.PortCount, new CmosRtc(below4G, _layout.TotalSize - below4G, _options.CpuCount));
        // 0xCF9 lives inside the configuration ports: the host bridge hands it the narrow accesses there.
        pci.HostBridge.LegacyPorts = new ResetControlRegister(this);
        _portBus.Register(PciHostBridge.PortBase, PciHostBridge.PortCount, pci.HostBridge);
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
