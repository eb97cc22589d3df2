using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.DevLguest;

/// <summary>
/// A guest on /dev/lguest. The Host creates the guest and its only vCPU together (LHREQ_INITIALIZE names the
/// entry point), so the request goes out when vCPU 0 is created; the file is closed, and the guest with it,
/// when this machine is disposed. A reboot needs a new machine on a freshly opened /dev/lguest.
/// </summary>
internal sealed class LguestVirtualMachine : IVirtualMachine
{
    /// <summary>LGUEST_IRQS: NR_VECTORS - FIRST_EXTERNAL_VECTOR, the interrupts LHREQ_IRQ accepts.</summary>
    public const int InterruptCount = 256 - 32;

    private readonly ILguestDevice _device;
    private readonly LguestInterruptLine?[] _lines = new LguestInterruptLine?[InterruptCount];
    private readonly Lock _lock = new();
    private LguestVcpu? _vcpu;
    private int _disposed;

    public LguestVirtualMachine(ILguestDevice device, GuestMemory memory, IoBus portBus, IoBus mmioBus)
    {
        _device = device;
        Memory = memory;
        PortBus = portBus;
        MmioBus = mmioBus;
        GuestMemoryLayout layout = memory.Layout;
        // The Host maps guest-physical p to host base + p for p below pfnlimit pages: one RAM region at 0.
        if (layout.Regions.Count != 1 || layout.Regions[0].Start != GuestAddress.Zero)
            throw new HypervisorException($"/dev/lguest needs guest RAM as one region from address 0 (GuestMemoryLayout.Flat); this layout has {layout.Regions.Count} region(s) from {layout.Regions[0].Start}");
        GuestMemoryRegion ram = layout.Regions[0];
        GuestMemoryRegion window = layout.MmioWindow;
        // Everything between pfnlimit and device_limit faults to the launcher as MMIO: the window must start
        // at the top of RAM and end on a page.
        if (window.Start != ram.End || window.Size == 0 || window.Size % GuestMemoryLayout.PageSize != 0)
            throw new HypervisorException($"/dev/lguest needs the device window right above RAM ({ram.End}); it is {window}");
        MemoryBase = LguestAbi.ToWord((ulong)memory.HostAddressOf(ram), "the guest memory's host address");
        PfnLimit = LguestAbi.ToWord(ram.Size / GuestMemoryLayout.PageSize, "pfnlimit");
        DeviceLimit = LguestAbi.ToWord(window.End.Value / GuestMemoryLayout.PageSize, "device_limit");
        // The i386 guest addresses 4 GiB; lguest's own Switcher and the guest kernel's mapping take much of it.
        if (window.End.Value > GuestMemoryLayout.FourGiB)
            throw new HypervisorException($"/dev/lguest guests are 32-bit: RAM and the device window must end below 4 GiB, not at {window.End}");
    }

    public GuestMemory Memory { get; }

    public IoBus PortBus { get; }

    public IoBus MmioBus { get; }

    /// <summary>LHREQ_INITIALIZE's base: the host address of guest-physical 0.</summary>
    public uint MemoryBase { get; }

    /// <summary>LHREQ_INITIALIZE's pfnlimit: RAM pages; guest-physical pages from here up are not RAM.</summary>
    public uint PfnLimit { get; }

    /// <summary>LHREQ_INITIALIZE's device_limit: the first page past the device window.</summary>
    public uint DeviceLimit { get; }

    internal ILguestDevice Device => _device;

    public IVcpu CreateVcpu(int index, BootState? boot)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        // The 4.x Host starts exactly one vCPU (lg_cpu_start from LHREQ_INITIALIZE only).
        if (index != 0)
            throw new HypervisorException($"vCPU {index}: /dev/lguest runs one vCPU per guest");
        ArgumentNullException.ThrowIfNull(boot);
        // The Host starts the guest at ring 1 in flat 32-bit protected mode with ESI = 0
        // (lguest_arch_setup_regs): the boot parameters must sit at guest-physical 0.
        if (boot.Mode != BootCpuMode.Linux32)
            throw new HypervisorException($"/dev/lguest enters the guest at its 32-bit entry point (BootCpuMode.Linux32), not {boot.Mode}");
        if (boot.BootInfo != GuestAddress.Zero)
            throw new HypervisorException($"/dev/lguest hands the guest its boot parameters at guest-physical 0 (ESI = 0), not at {boot.BootInfo}");
        if (!Memory.Layout.Contains(boot.Entry, 1))
            throw new HypervisorException($"the entry point {boot.Entry} is outside guest RAM");
        uint start = LguestAbi.ToWord(boot.Entry.Value, "the entry point");

        lock (_lock)
        {
            if (_vcpu is not null)
                throw new HypervisorException("vCPU 0 exists already: /dev/lguest initializes a guest once");
            Span<byte> request = stackalloc byte[LguestAbi.InitializeSize];
            LguestAbi.WriteInitialize(request, MemoryBase, PfnLimit, start, DeviceLimit);
            int rc = _device.Write(request, 0);
            if (rc < 0)
                throw HypervisorException.FromErrno("LHREQ_INITIALIZE", -rc);
            _vcpu = new LguestVcpu(this, 0);
            return _vcpu;
        }
    }

    public IInterruptLine GetInterruptLine(int gsi)
    {
        if (gsi < 0 || gsi >= InterruptCount)
            throw new ArgumentOutOfRangeException(nameof(gsi), gsi, $"/dev/lguest interrupts are 0-{InterruptCount - 1}");
        lock (_lock)
            return _lines[gsi] ??= new LguestInterruptLine(this, gsi);
    }

    /// <summary>
    /// /dev/lguest has no ioeventfd: a notification write traps to the launcher, is emulated and reaches the
    /// MMIO bus, whose notify handler signals the queue.
    /// </summary>
    public bool TryRegisterNotifyEvent(GuestAddress address, int width, EventNotifier notifier, out IDisposable? registration)
    {
        registration = null;
        return false;
    }

    /// <summary>Sends LHREQ_IRQ. From any thread (device workers); the Host serializes requests.</summary>
    internal void RaiseInterrupt(int irq)
    {
        if (Volatile.Read(ref _disposed) != 0)
            return;
        Span<byte> request = stackalloc byte[LguestAbi.OneArgumentSize];
        LguestAbi.WriteIrq(request, (uint)irq);
        int rc = _device.Write(request, 0);
        // ENOENT: the guest is dead and the vCPU's next read says why; EINVAL before INITIALIZE: no guest
        // yet to interrupt. Neither is the device's fault, and the run loop reports the guest's fate.
        if (rc < 0 && -rc is not (Interop.Libc.ENOENT or Interop.Libc.EINVAL))
            throw HypervisorException.FromErrno($"LHREQ_IRQ {irq}", -rc);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _vcpu?.Dispose();
        _device.Dispose();
    }
}
