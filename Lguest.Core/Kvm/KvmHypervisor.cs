using System.Runtime.InteropServices;
using Lguest.Hypervisor;
using Lguest.Interop;
using Lguest.Memory;

namespace Lguest.Kvm;

/// <summary>
/// The KVM backend: guests on /dev/kvm with KVM's in-kernel interrupt controllers and PIT. Open one
/// per process; it may create several VMs (one after another on reboot).
/// </summary>
public sealed unsafe partial class KvmHypervisor : IHypervisor, IDisposable
{
    /// <summary>How many CPUID entries to ask for first; KVM_GET_SUPPORTED_CPUID says E2BIG if more exist.</summary>
    private const int InitialCpuidEntries = 128;

    /// <summary>The most CPUID entries accepted (KVM_MAX_CPUID_ENTRIES is 256).</summary>
    private const int MaxCpuidEntries = 256;

    private readonly FileDescriptor _kvm;
    private readonly KvmCpuidEntry2[] _supportedCpuid;

    private KvmHypervisor(FileDescriptor kvm, KvmHypervisorOptions options)
    {
        _kvm = kvm;
        Options = options;
        int version = Libc.Ioctl(_kvm, KvmIoctl.GetApiVersion, 0);
        if (version != KvmIoctl.ApiVersion)
        {
            throw new HostUnavailableException("kvm", options.DevicePath, HostUnavailableReason.Unsupported,
                $"{options.DevicePath} speaks KVM API version {version}; only {KvmIoctl.ApiVersion} is supported");
        }
        RequireCapability(KvmIoctl.CapUserMemory, "KVM_CAP_USER_MEMORY");
        if (options.InKernelIrqchip)
        {
            RequireCapability(KvmIoctl.CapIrqchip, "KVM_CAP_IRQCHIP");
            RequireCapability(KvmIoctl.CapPit2, "KVM_CAP_PIT2");
        }
        VcpuMmapSize = Libc.Ioctl(_kvm, KvmIoctl.GetVcpuMmapSize, 0);
        if (VcpuMmapSize < sizeof(KvmRun) + 256)
            throw HypervisorException.FromErrno("KVM_GET_VCPU_MMAP_SIZE", Marshal.GetLastPInvokeError());
        HasIrqfd = CheckExtension(KvmIoctl.CapIrqfd) > 0;
        MaxIrqRoutes = Math.Max(CheckExtension(KvmIoctl.CapIrqRouting), 0);
        HasIoeventfd = CheckExtension(KvmIoctl.CapIoeventfd) > 0;
        HasImmediateExit = CheckExtension(KvmIoctl.CapImmediateExit) > 0;
        HasTscDeadlineTimer = CheckExtension(KvmIoctl.CapTscDeadlineTimer) > 0;
        int maxVcpus = CheckExtension(KvmIoctl.CapMaxVcpus);
        MaxVcpus = maxVcpus > 0 ? maxVcpus : Math.Max(CheckExtension(KvmIoctl.CapNrVcpus), 1);
        IsInstructionEmulator = Directory.Exists("/sys/module/kvm_pvm");
        CpuTemplate = options.CpuTemplate ?? (IsInstructionEmulator ? CpuTemplate.InstructionEmulator : CpuTemplate.Default);
        _supportedCpuid = ReadSupportedCpuid();
    }

    /// <inheritdoc />
    public string Name => "kvm";

    /// <summary>The options this backend was opened with.</summary>
    public KvmHypervisorOptions Options { get; }

    /// <summary>The CPUID edits every vCPU gets.</summary>
    public CpuTemplate CpuTemplate { get; }

    /// <summary>The most vCPUs one VM may have on this host.</summary>
    public int MaxVcpus { get; }

    /// <summary>
    /// Whether this host's KVM is kvm_pvm, which without VT-x/AMD-V below it runs guests through an
    /// instruction emulator (about a million instructions a second; no protected-mode int n/int3,
    /// cmpxchg16b, xsave/xrstor).
    /// </summary>
    public bool IsInstructionEmulator { get; }

    internal int VcpuMmapSize { get; }

    internal bool HasIrqfd { get; }

    /// <summary>KVM_CAP_IRQ_ROUTING: how many GSI routing entries a VM may have (KVM_MAX_IRQ_ROUTES), 0 without routing.</summary>
    internal int MaxIrqRoutes { get; }

    internal bool HasIoeventfd { get; }

    internal bool HasImmediateExit { get; }

    /// <summary>
    /// KVM_CAP_TSC_DEADLINE_TIMER: the in-kernel local APIC runs its timer in TSC-deadline mode. KVM_GET_SUPPORTED_CPUID
    /// leaves the CPUID bit out (the feature is KVM's own emulation, not the host CPU's), so the launcher sets it.
    /// </summary>
    internal bool HasTscDeadlineTimer { get; }

    internal ReadOnlySpan<KvmCpuidEntry2> SupportedCpuid => _supportedCpuid;

    /// <summary>Opens the KVM device and checks that it can run guests.</summary>
    /// <exception cref="HostUnavailableException">The device is missing, not accessible, or unfit; the reason and the message say which.</exception>
    /// <exception cref="HypervisorException">A query of the opened device failed.</exception>
    public static KvmHypervisor Open(KvmHypervisorOptions? options = null)
    {
        options ??= new KvmHypervisorOptions();
        int fd = Libc.Open(options.DevicePath, Libc.ORdwr | Libc.OCloexec);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            string why = errno switch
            {
                Libc.ENOENT => "no such device (is the kvm module loaded, or is this a VM without nested virtualization?)",
                Libc.EACCES or Libc.EPERM => "permission denied (add your user to the kvm group)",
                Libc.ENXIO or Libc.ENODEV => "the device has no driver (no hardware virtualization?)",
                _ => Marshal.GetPInvokeErrorMessage(errno),
            };
            throw new HostUnavailableException("kvm", options.DevicePath, HostUnavailableException.ReasonOf(errno), $"cannot open {options.DevicePath}: {why}", errno);
        }
        var kvm = new FileDescriptor(fd);
        try
        {
            return new KvmHypervisor(kvm, options);
        }
        catch
        {
            kvm.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public IVirtualMachine CreateVirtualMachine(GuestMemory memory, IoBus portBus, IoBus mmioBus)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(portBus);
        ArgumentNullException.ThrowIfNull(mmioBus);
        int fd = Libc.Ioctl(_kvm, KvmIoctl.CreateVm, 0);
        if (fd < 0)
            throw HypervisorException.FromErrno("KVM_CREATE_VM", Marshal.GetLastPInvokeError());
        var vm = new FileDescriptor(fd);
        try
        {
            return new KvmVirtualMachine(this, vm, memory);
        }
        catch
        {
            vm.Dispose();
            throw;
        }
    }

    /// <summary>Closes the KVM device; VMs already created keep working.</summary>
    public void Dispose() => _kvm.Dispose();

    internal int CheckExtension(nuint capability) => Libc.Ioctl(_kvm, KvmIoctl.CheckExtension, capability);

    private void RequireCapability(nuint capability, string name)
    {
        if (CheckExtension(capability) <= 0)
            throw new HostUnavailableException("kvm", Options.DevicePath, HostUnavailableReason.Unsupported, $"{Options.DevicePath} lacks {name}, which the KVM backend needs");
    }

    private KvmCpuidEntry2[] ReadSupportedCpuid()
    {
        for (int count = InitialCpuidEntries; count <= MaxCpuidEntries; count *= 2)
        {
            int bytes = sizeof(KvmCpuid2) + count * sizeof(KvmCpuidEntry2);
            byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
            try
            {
                // Safety: buffer holds the kvm_cpuid2 head plus `count` entries, as nent tells KVM.
                ((KvmCpuid2*)buffer)->Nent = (uint)count;
                if (Libc.Ioctl(_kvm, KvmIoctl.GetSupportedCpuid, buffer) < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.E2BIG)
                        continue;
                    throw HypervisorException.FromErrno("KVM_GET_SUPPORTED_CPUID", errno);
                }
                uint returned = ((KvmCpuid2*)buffer)->Nent;
                if (returned > (uint)count)
                    throw new HypervisorException($"KVM_GET_SUPPORTED_CPUID returned {returned} entries for room of {count}");
                return new ReadOnlySpan<KvmCpuidEntry2>(buffer + sizeof(KvmCpuid2), (int)returned).ToArray();
            }
            finally
            {
                NativeMemory.Free(buffer);
            }
        }
        throw new HypervisorException($"KVM_GET_SUPPORTED_CPUID reports more than {MaxCpuidEntries} entries");
    }
}
