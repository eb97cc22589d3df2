using System.Runtime.InteropServices;
using Lguest.Hypervisor;
using Lguest.Interop;
using Lguest.Snapshot;

namespace Lguest.Kvm;

// What the KVM backend needs for snapshots: the capabilities of the state requests, the MSRs worth saving, and
// the check that a snapshot's vCPUs can run on this host at all.
public sealed unsafe partial class KvmHypervisor
{
    /// <summary>The most MSRs a snapshot keeps per vCPU: KVM lists about 40 to 200 (msrs_to_save, emulated and feature MSRs).</summary>
    internal const int MaxSnapshotMsrs = 1024;

    private uint[]? _snapshotMsrIndices;
    private int _xsaveSize = -1;

    /// <inheritdoc />
    public bool SupportsSnapshots => MissingSnapshotCapability() is null;

    internal bool HasXcrs => CheckExtension(KvmIoctl.CapXcrs) > 0;

    internal bool HasXsave2 => CheckExtension(KvmIoctl.CapXsave2) > 0;

    internal bool HasGetTscKhz => CheckExtension(KvmIoctl.CapGetTscKhz) > 0;

    internal bool HasTscControl => CheckExtension(KvmIoctl.CapTscControl) > 0;

    internal bool HasKvmclockCtrl => CheckExtension(KvmIoctl.CapKvmclockCtrl) > 0;

    /// <summary>
    /// The bytes of a vCPU's XSAVE image (KVM_CAP_XSAVE2's answer: at least the legacy 4 KiB, more with dynamic
    /// components such as AMX), or 0 when KVM has no XSAVE requests and the FPU travels as struct kvm_fpu.
    /// </summary>
    internal int XsaveSize
    {
        get
        {
            if (_xsaveSize < 0)
            {
                int size = CheckExtension(KvmIoctl.CapXsave2);
                _xsaveSize = size > 0 ? Math.Max(size, 4096) : CheckExtension(KvmIoctl.CapXsave) > 0 ? 4096 : 0;
            }
            return _xsaveSize;
        }
    }

    /// <summary>
    /// The MSRs a snapshot saves: every MSR KVM lists for save and restore (KVM_GET_MSR_INDEX_LIST: architectural,
    /// emulated and kvmclock ones) and the feature MSRs (KVM_GET_MSR_FEATURE_INDEX_LIST), each once. A vCPU keeps
    /// those it can read (<see cref="KvmVcpu.CaptureState"/>).
    /// </summary>
    internal ReadOnlySpan<uint> SnapshotMsrIndices
    {
        get
        {
            if (_snapshotMsrIndices is null)
            {
                var indices = new SortedSet<uint>(ReadMsrList(KvmIoctl.GetMsrIndexList, "KVM_GET_MSR_INDEX_LIST"));
                if (CheckExtension(KvmIoctl.CapGetMsrFeatures) > 0)
                    indices.UnionWith(ReadMsrList(KvmIoctl.GetMsrFeatureIndexList, "KVM_GET_MSR_FEATURE_INDEX_LIST"));
                if (indices.Count > MaxSnapshotMsrs)
                    throw new HypervisorException($"KVM lists {indices.Count} MSRs, more than the {MaxSnapshotMsrs} a snapshot keeps");
                _snapshotMsrIndices = [.. indices];
            }
            return _snapshotMsrIndices;
        }
    }

    /// <inheritdoc />
    public void CheckRestorable(BackendState vcpu)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        RequireSnapshotCapabilities();
        var reader = new KvmStateReader(vcpu, Name, "vCPU");
        KvmCpuidEntry2[] cpuid = reader.Array<KvmCpuidEntry2>(KvmVcpu.CpuidSection, KvmVcpu.MaxCpuidEntries);
        KvmCpuidCompatibility.Check(cpuid, SupportedCpuid);
        if (reader.Optional(KvmVcpu.XsaveSection))
        {
            byte[] xsave = reader.Bytes(KvmVcpu.XsaveSection, 4096, KvmVcpu.MaxXsaveSize);
            if (xsave.Length > Math.Max(XsaveSize, 4096))
                throw new SnapshotException(SnapshotRefusal.Incompatible,
                    $"the snapshot's XSAVE state is {xsave.Length} bytes; this host's KVM holds {XsaveSize}");
        }
        if (reader.Optional(KvmVcpu.XcrsSection))
            KvmCpuidCompatibility.CheckXcr0(reader.Struct<KvmXcrs>(KvmVcpu.XcrsSection), SupportedCpuid);
    }

    /// <summary>Throws, naming the capability, when this KVM cannot capture or restore a guest.</summary>
    internal void RequireSnapshotCapabilities()
    {
        if (MissingSnapshotCapability() is { } missing)
            throw new SnapshotException(SnapshotRefusal.NotSupported, $"this host's KVM lacks {missing}, which snapshots need");
    }

    private string? MissingSnapshotCapability() =>
        CheckExtension(KvmIoctl.CapMpState) <= 0 ? "KVM_CAP_MP_STATE"
        : CheckExtension(KvmIoctl.CapVcpuEvents) <= 0 ? "KVM_CAP_VCPU_EVENTS"
        : CheckExtension(KvmIoctl.CapDebugRegs) <= 0 ? "KVM_CAP_DEBUGREGS"
        : CheckExtension(KvmIoctl.CapAdjustClock) <= 0 ? "KVM_CAP_ADJUST_CLOCK"
        : null;

    private uint[] ReadMsrList(uint request, string name)
    {
        // Asked with room for none, KVM answers E2BIG with the count in nmsrs.
        KvmMsrList head = default;
        if (Libc.Ioctl(_kvm, request, &head) == 0)
            return [];
        int errno = Marshal.GetLastPInvokeError();
        if (errno != Libc.E2BIG)
            throw HypervisorException.FromErrno(name, errno);
        if (head.Nmsrs > MaxSnapshotMsrs)
            throw new HypervisorException($"{name} reports {head.Nmsrs} MSRs, more than the {MaxSnapshotMsrs} a snapshot keeps");
        int count = (int)head.Nmsrs;
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)(sizeof(KvmMsrList) + count * sizeof(uint)));
        try
        {
            // Safety: buffer holds the head and count indices, as nmsrs says.
            ((KvmMsrList*)buffer)->Nmsrs = (uint)count;
            if (Libc.Ioctl(_kvm, request, buffer) < 0)
                throw HypervisorException.FromErrno(name, Marshal.GetLastPInvokeError());
            uint returned = Math.Min(((KvmMsrList*)buffer)->Nmsrs, (uint)count);
            return new ReadOnlySpan<uint>(buffer + sizeof(KvmMsrList), (int)returned).ToArray();
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }
}
