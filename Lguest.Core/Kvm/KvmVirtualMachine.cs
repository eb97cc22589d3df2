using System.Runtime.InteropServices;
using Lguest.Hypervisor;
using Lguest.Interop;
using Lguest.Memory;

namespace Lguest.Kvm;

/// <summary>A KVM VM: guest RAM in memory slots, KVM's in-kernel PIC/IOAPIC/PIT, and its vCPUs.</summary>
internal sealed unsafe partial class KvmVirtualMachine : IVirtualMachine
{
    /// <summary>
    /// Three pages KVM needs for the real-mode TSS on Intel (api.rst KVM_SET_TSS_ADDR), and one for its
    /// EPT identity map: just below the 4 GiB boundary's BIOS area, above the IOAPIC and local APIC,
    /// outside RAM and outside the PCI window, where QEMU and Firecracker also put them.
    /// </summary>
    public const ulong TssAddress = 0xFFFB_D000;

    /// <summary>The EPT identity-map page (api.rst KVM_SET_IDENTITY_MAP_ADDR), one page below the TSS.</summary>
    public const ulong IdentityMapAddress = 0xFFFB_C000;

    /// <summary>The ISA and IOAPIC inputs an interrupt line may name: the in-kernel IOAPIC has 24 pins.</summary>
    public const int MaxGsi = 23;

    private readonly FileDescriptor _vm;
    private readonly KvmInterruptLine?[] _lines = new KvmInterruptLine?[MaxGsi + 1];
    private readonly Lock _linesLock = new();

    // The MSI routes: each GSI above the PC's with its message once the guest programmed one. KVM_SET_GSI_ROUTING
    // replaces the whole table, so every change rewrites the PC entries and all messages, under the lock.
    private readonly Lock _routingLock = new();
    private readonly SortedDictionary<uint, (ulong Address, uint Data)?> _msiRoutes = [];
    private readonly List<KvmMsiRoute> _liveMsiRoutes = [];
    private volatile bool _disposed;

    public KvmVirtualMachine(KvmHypervisor kvm, FileDescriptor vm, GuestMemory memory)
    {
        Kvm = kvm;
        _vm = vm;
        Memory = memory;
        HasIrqchip = kvm.Options.InKernelIrqchip;

        // Order matters: the TSS and identity map come before any vCPU, the IRQ chip before the PIT, and the
        // memory slots before the IRQ chip: on kvm_pvm a 512 MiB slot added after KVM_CREATE_IRQCHIP took a
        // median 5.7 ms (the kernel waits for a grace period), added before it 0.2-0.4 ms, with the chip,
        // routing and PIT after it no slower (15 runs each, loaded 2-core host).
        Check(Libc.Ioctl(_vm, KvmIoctl.SetTssAddr, (nuint)TssAddress), "KVM_SET_TSS_ADDR");
        ulong identityMap = IdentityMapAddress;
        Check(Libc.Ioctl(_vm, KvmIoctl.SetIdentityMapAddr, &identityMap), "KVM_SET_IDENTITY_MAP_ADDR");
        IReadOnlyList<GuestMemoryRegion> regions = memory.Layout.Regions;
        for (int slot = 0; slot < regions.Count; slot++)
        {
            var region = new KvmUserspaceMemoryRegion
            {
                Slot = (uint)slot,
                GuestPhysAddr = regions[slot].Start.Value,
                MemorySize = regions[slot].Size,
                UserspaceAddr = (ulong)memory.HostAddressOf(regions[slot]),
            };
            Check(Libc.Ioctl(_vm, KvmIoctl.SetUserMemoryRegion, &region), "KVM_SET_USER_MEMORY_REGION");
        }
        if (HasIrqchip)
        {
            Check(Libc.Ioctl(_vm, KvmIoctl.CreateIrqchip, 0), "KVM_CREATE_IRQCHIP");
            lock (_routingLock)
                Check(ApplyRoutingLocked(), "KVM_SET_GSI_ROUTING");
            // The speaker port (0x61) is answered in the kernel too, so Linux's PIT calibration never exits.
            var pit = new KvmPitConfig { Flags = KvmIoctl.PitSpeakerDummy };
            Check(Libc.Ioctl(_vm, KvmIoctl.CreatePit2, &pit), "KVM_CREATE_PIT2");
        }
    }

    public KvmHypervisor Kvm { get; }

    public GuestMemory Memory { get; }

    public bool HasIrqchip { get; }

    internal FileDescriptor Handle => _vm;

    public IVcpu CreateVcpu(int index, BootState? boot)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (index >= Kvm.MaxVcpus)
            throw new ArgumentOutOfRangeException(nameof(index), $"vCPU {index}: this host allows {Kvm.MaxVcpus}");
        int fd = Libc.Ioctl(_vm, KvmIoctl.CreateVcpu, (nuint)index);
        if (fd < 0)
            throw HypervisorException.FromErrno($"KVM_CREATE_VCPU {index}", Marshal.GetLastPInvokeError());
        var vcpu = new FileDescriptor(fd);
        KvmVcpu? created = null;
        try
        {
            created = new KvmVcpu(this, vcpu, index);
            created.Configure(boot);
            return created;
        }
        catch
        {
            if (created is not null)
                created.Dispose();
            else
                vcpu.Dispose();
            throw;
        }
    }

    public IInterruptLine GetInterruptLine(int gsi)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(gsi);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(gsi, MaxGsi);
        if (!HasIrqchip)
            throw new HypervisorException("this VM has no in-kernel interrupt controller to raise lines on");
        lock (_linesLock)
            return _lines[gsi] ??= new KvmInterruptLine(this, gsi);
    }

    public bool TryRegisterNotifyEvent(GuestAddress address, int width, EventNotifier notifier, out IDisposable? registration)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(notifier);
        registration = null;
        if (!Kvm.HasIoeventfd || width is not (1 or 2 or 4 or 8))
            return false;
        var request = new KvmIoeventfd { Addr = address.Value, Len = (uint)width, Fd = notifier.Handle.Number, Flags = 0 };
        if (Libc.Ioctl(_vm, KvmIoctl.Ioeventfd, &request) < 0)
            throw HypervisorException.FromErrno($"KVM_IOEVENTFD at {address}", Marshal.GetLastPInvokeError());
        registration = new KvmIoeventfdRegistration(this, request);
        return true;
    }

    /// <summary>Removes an ioeventfd registered by <see cref="TryRegisterNotifyEvent"/>.</summary>
    internal void Deassign(KvmIoeventfd request)
    {
        if (_disposed)
            return; // closing the VM dropped every registration
        request.Flags |= KvmIoctl.IoeventfdFlagDeassign;
        _ = Libc.Ioctl(_vm, KvmIoctl.Ioeventfd, &request);
    }

    /// <summary>
    /// A route for one MSI: the lowest free GSI above the PC's, when the VM has an in-kernel interrupt
    /// controller, irqfd and GSI routing, and the routing table has room.
    /// </summary>
    public bool TryCreateMsiRoute(out IMsiRoute? route)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        route = null;
        if (!HasIrqchip || !Kvm.HasIrqfd)
            return false;
        lock (_routingLock)
        {
            // KVM refuses a GSI at or past KVM_MAX_IRQ_ROUTES, and a table longer than that.
            int entries = PcInterruptRouting().Length + _msiRoutes.Count;
            uint gsi = MaxGsi + 1;
            while (_msiRoutes.ContainsKey(gsi))
                gsi++;
            if (gsi >= (uint)Kvm.MaxIrqRoutes || entries >= Kvm.MaxIrqRoutes)
                return false;
            _msiRoutes.Add(gsi, null);
            var created = new KvmMsiRoute(this, gsi);
            _liveMsiRoutes.Add(created);
            route = created;
            return true;
        }
    }

    /// <summary>The GSIs of the MSI routes and their messages (null: not programmed yet), in GSI order.</summary>
    internal IReadOnlyList<(uint Gsi, ulong Address, uint Data)> ProgrammedMsiRoutes()
    {
        lock (_routingLock)
            return [.. _msiRoutes.Where(r => r.Value is not null).Select(r => (r.Key, r.Value!.Value.Address, r.Value.Value.Data))];
    }

    /// <summary>
    /// Points <paramref name="gsi"/> at a message and rewrites the routing table. The message is the guest's:
    /// if KVM refuses it, the GSI is left without a route (its signals go nowhere) and the VM runs on.
    /// </summary>
    internal void SetMsiRoute(uint gsi, ulong address, uint data)
    {
        lock (_routingLock)
        {
            if (_disposed || !_msiRoutes.ContainsKey(gsi))
                return;
            _msiRoutes[gsi] = (address, data);
            if (ApplyRoutingLocked() < 0)
            {
                _msiRoutes[gsi] = null;
                Check(ApplyRoutingLocked(), "KVM_SET_GSI_ROUTING");
            }
        }
    }

    /// <summary>Frees <paramref name="gsi"/> and drops its routing entry.</summary>
    internal void RemoveMsiRoute(uint gsi)
    {
        lock (_routingLock)
        {
            _liveMsiRoutes.RemoveAll(r => r.Gsi == gsi);
            if (!_msiRoutes.Remove(gsi, out (ulong, uint)? message) || _disposed || message is null)
                return;
            _ = ApplyRoutingLocked();
        }
    }

    /// <summary>
    /// A new eventfd bound to GSI <paramref name="gsi"/> with KVM_IRQFD: a write to it injects the GSI from
    /// the kernel, with no ioctl and no vCPU. <paramref name="what"/> names the source in the error.
    /// </summary>
    internal EventNotifier BindIrqfd(uint gsi, string what)
    {
        var notifier = new EventNotifier();
        var request = new KvmIrqfd { Fd = (uint)notifier.Handle.Number, Gsi = gsi };
        if (Libc.Ioctl(_vm, KvmIoctl.Irqfd, &request) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            notifier.Dispose();
            throw HypervisorException.FromErrno($"KVM_IRQFD {gsi} ({what})", errno);
        }
        return notifier;
    }

    /// <summary>Unbinds an MSI route's eventfd from its GSI (KVM_IRQFD with KVM_IRQFD_FLAG_DEASSIGN).</summary>
    internal void UnbindIrqfd(EventNotifier irqfd, uint gsi)
    {
        if (_disposed)
            return; // closing the VM released every irqfd
        var request = new KvmIrqfd { Fd = (uint)irqfd.Handle.Number, Gsi = gsi, Flags = KvmIoctl.IrqfdFlagDeassign };
        _ = Libc.Ioctl(_vm, KvmIoctl.Irqfd, &request);
    }

    /// <summary>Sets GSI <paramref name="gsi"/> to <paramref name="level"/> through KVM_IRQ_LINE.</summary>
    internal void SetIrqLine(int gsi, bool level)
    {
        var irq = new KvmIrqLevel { Irq = (uint)gsi, Level = level ? 1u : 0u };
        if (Libc.Ioctl(_vm, KvmIoctl.IrqLine, &irq) < 0)
            throw HypervisorException.FromErrno($"KVM_IRQ_LINE {gsi}", Marshal.GetLastPInvokeError());
    }

    /// <summary>
    /// The PC's wiring of GSIs to the interrupt controllers, which the MADT describes: ISA IRQs 0-15 to
    /// the 8259 pair (2 is the cascade), and to the IOAPIC pin of the same number except the PIT's
    /// IRQ 0, which a PC wires to IOAPIC pin 2 (the MADT's override; KVM's default routing would use
    /// pin 0). GSIs 16-23 reach only the IOAPIC.
    /// </summary>
    internal static KvmIrqRoutingEntry[] PcInterruptRouting()
    {
        var entries = new List<KvmIrqRoutingEntry>();
        for (uint gsi = 0; gsi < 16; gsi++)
        {
            if (gsi == 2)
                continue;
            entries.Add(new KvmIrqRoutingEntry
            {
                Gsi = gsi,
                Type = KvmIoctl.IrqRoutingIrqchip,
                Irqchip = gsi < 8 ? KvmIoctl.IrqchipPicMaster : KvmIoctl.IrqchipPicSlave,
                Pin = gsi % 8,
            });
        }
        for (uint gsi = 0; gsi <= MaxGsi; gsi++)
        {
            if (gsi == 2)
                continue;
            entries.Add(new KvmIrqRoutingEntry { Gsi = gsi, Type = KvmIoctl.IrqRoutingIrqchip, Irqchip = KvmIoctl.IrqchipIoapic, Pin = gsi == 0 ? 2 : gsi });
        }
        return entries.ToArray();
    }

    /// <summary>The whole routing table: the PC's entries, then one KVM_IRQ_ROUTING_MSI entry per programmed MSI route.</summary>
    internal KvmIrqRoutingEntry[] RoutingTable()
    {
        lock (_routingLock)
            return RoutingTableLocked();
    }

    private KvmIrqRoutingEntry[] RoutingTableLocked()
    {
        var entries = new List<KvmIrqRoutingEntry>(PcInterruptRouting());
        foreach ((uint gsi, (ulong Address, uint Data)? message) in _msiRoutes)
        {
            if (message is not { } m)
                continue;
            entries.Add(new KvmIrqRoutingEntry
            {
                Gsi = gsi,
                Type = KvmIoctl.IrqRoutingMsi,
                AddressLo = (uint)m.Address,
                AddressHi = (uint)(m.Address >> 32),
                Data = m.Data,
            });
        }
        return [.. entries];
    }

    // KVM_SET_GSI_ROUTING with the whole table; returns the ioctl's result (negative: errno is set).
    private int ApplyRoutingLocked()
    {
        KvmIrqRoutingEntry[] entries = RoutingTableLocked();
        int bytes = sizeof(KvmIrqRouting) + entries.Length * sizeof(KvmIrqRoutingEntry);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            // Safety: buffer holds the head and entries.Length entries.
            ((KvmIrqRouting*)buffer)->Nr = (uint)entries.Length;
            entries.AsSpan().CopyTo(new Span<KvmIrqRoutingEntry>(buffer + sizeof(KvmIrqRouting), entries.Length));
            return Libc.Ioctl(_vm, KvmIoctl.SetGsiRouting, buffer);
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        lock (_linesLock)
        {
            foreach (KvmInterruptLine? line in _lines)
                line?.Dispose();
        }
        KvmMsiRoute[] routes;
        lock (_routingLock)
            routes = [.. _liveMsiRoutes];
        foreach (KvmMsiRoute route in routes)
            route.Dispose();
        _vm.Dispose();
    }

    private static void Check(int rc, string request)
    {
        if (rc < 0)
            throw HypervisorException.FromErrno(request, Marshal.GetLastPInvokeError());
    }
}
