using System.Runtime.InteropServices;
using Lguest.Hypervisor;
using Lguest.Interop;
using Lguest.Snapshot;

namespace Lguest.Kvm;

// Capture and restore of a vCPU's state for snapshots: each piece KVM keeps, as the image of its kernel struct
// in a section of its own. The order of both follows what KVM requires (api.rst; Firecracker's vcpu.rs reads
// the same): see CaptureState and RestoreState.
internal sealed unsafe partial class KvmVcpu
{
    /// <summary>KVM_MAX_CPUID_ENTRIES: the most CPUID entries a vCPU can have.</summary>
    internal const int MaxCpuidEntries = 256;

    /// <summary>MAX_IO_MSRS in KVM: the most MSRs one KVM_GET_MSRS or KVM_SET_MSRS moves.</summary>
    internal const int MsrsPerCall = 256;

    /// <summary>The largest XSAVE image accepted from a snapshot: 64 KiB, past anything x86 defines (AMX's is 11 KiB).</summary>
    internal const int MaxXsaveSize = 64 * 1024;

    /// <summary>MSR_IA32_TSC_DEADLINE, which KVM arms against the TSC: restored after every other MSR.</summary>
    internal const uint MsrIa32TscDeadline = 0x6E0;

    // Section names: part of the snapshot format (Lguest.Core/Snapshot/README.md).
    internal const string CpuidSection = "cpuid", TscKhzSection = "tsc-khz", MpStateSection = "mp-state", RegsSection = "regs",
        SregsSection = "sregs", XsaveSection = "xsave", FpuSection = "fpu", XcrsSection = "xcrs", DebugRegsSection = "debugregs",
        LapicSection = "lapic", MsrsSection = "msrs", EventsSection = "events";

    // The CPUID as this vCPU was given it. Kept rather than read back with KVM_GET_CPUID2: kvm_pvm answers that
    // with other values than it was set (the host's, it seems: SSE3, AVX2 where the set leaf 1 had neither).
    private KvmCpuidEntry2[] _cpuid = [];

    private string What => $"vCPU {Index}";

    public BackendState CaptureState()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        KvmHypervisor kvm = _vm.Kvm;
        kvm.RequireSnapshotCapabilities();
        CompletePendingExit();

        var sections = new List<BackendStateSection>();
        void Add(string name, byte[] data) => sections.Add(new BackendStateSection(name, data));

        // KVM_GET_MP_STATE first: it lets the local APIC take pending INIT/SIPI events, changing what the
        // other requests return. KVM_GET_VCPU_EVENTS last: the other GETs may still move events around.
        KvmMpState mp;
        Check(Libc.Ioctl(_fd, KvmIoctl.GetMpState, &mp), "KVM_GET_MP_STATE");
        Add(CpuidSection, MemoryMarshal.AsBytes(_cpuid.AsSpan()).ToArray());
        if (TryGetTscKhz(out uint tscKhz))
            Add(TscKhzSection, BitConverter.GetBytes(tscKhz));
        Add(MpStateSection, Image(mp));
        Add(RegsSection, Image(GetRegisters()));
        Add(SregsSection, Image(GetSpecialRegisters()));
        if (kvm.XsaveSize > 0)
            Add(XsaveSection, GetXsave(kvm.XsaveSize));
        else
        {
            KvmFpu fpu;
            Check(Libc.Ioctl(_fd, KvmIoctl.GetFpu, &fpu), "KVM_GET_FPU");
            Add(FpuSection, Image(fpu));
        }
        if (kvm.HasXcrs)
        {
            KvmXcrs xcrs;
            Check(Libc.Ioctl(_fd, KvmIoctl.GetXcrs, &xcrs), "KVM_GET_XCRS");
            Add(XcrsSection, Image(xcrs));
        }
        KvmDebugRegs debug;
        Check(Libc.Ioctl(_fd, KvmIoctl.GetDebugRegs, &debug), "KVM_GET_DEBUGREGS");
        Add(DebugRegsSection, Image(debug));
        if (_vm.HasIrqchip)
            Add(LapicSection, Image(GetLocalApic()));
        Add(MsrsSection, MemoryMarshal.AsBytes(GetMsrs(kvm.SnapshotMsrIndices).AsSpan()).ToArray());
        KvmVcpuEvents events;
        Check(Libc.Ioctl(_fd, KvmIoctl.GetVcpuEvents, &events), "KVM_GET_VCPU_EVENTS");
        Add(EventsSection, Image(events));
        return new BackendState(kvm.Name, sections);
    }

    public void RestoreState(BackendState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        ObjectDisposedException.ThrowIf(_disposed, this);
        KvmHypervisor kvm = _vm.Kvm;
        kvm.RequireSnapshotCapabilities();
        var reader = new KvmStateReader(state, kvm.Name, What);

        // Read and check every section before the first SET, so a malformed state changes nothing.
        KvmCpuidEntry2[] cpuid = reader.Array<KvmCpuidEntry2>(CpuidSection, MaxCpuidEntries);
        uint? tscKhz = reader.Optional(TscKhzSection) ? reader.Struct<uint>(TscKhzSection) : null;
        KvmMpState mp = reader.Struct<KvmMpState>(MpStateSection);
        KvmRegs regs = reader.Struct<KvmRegs>(RegsSection);
        KvmSregs sregs = reader.Struct<KvmSregs>(SregsSection);
        byte[]? xsave = reader.Optional(XsaveSection) ? reader.Bytes(XsaveSection, KvmXsaveMinimumSize, MaxXsaveSize) : null;
        KvmFpu? fpu = xsave is null ? reader.Struct<KvmFpu>(FpuSection) : null;
        KvmXcrs? xcrs = reader.Optional(XcrsSection) ? reader.Struct<KvmXcrs>(XcrsSection) : null;
        KvmDebugRegs debug = reader.Struct<KvmDebugRegs>(DebugRegsSection);
        KvmLapicState? lapic = reader.Optional(LapicSection) ? reader.Struct<KvmLapicState>(LapicSection) : null;
        KvmMsrEntry[] msrs = reader.Array<KvmMsrEntry>(MsrsSection, KvmHypervisor.MaxSnapshotMsrs);
        KvmVcpuEvents events = reader.Struct<KvmVcpuEvents>(EventsSection);
        reader.RequireAllRead();
        if (lapic is not null != _vm.HasIrqchip)
            throw new SnapshotException(SnapshotRefusal.Incompatible, lapic is null
                ? $"{What}: the snapshot has no local APIC state, but this VM has an in-kernel interrupt controller"
                : $"{What}: the snapshot has local APIC state, but this VM has no in-kernel interrupt controller");
        if (xsave is not null && xsave.Length > Math.Max(kvm.XsaveSize, KvmXsaveMinimumSize))
            throw new SnapshotException(SnapshotRefusal.Incompatible,
                $"{What}: the snapshot's XSAVE state is {xsave.Length} bytes; this host's KVM holds {kvm.XsaveSize}");
        if (xcrs is not null && !kvm.HasXcrs)
            throw new SnapshotException(SnapshotRefusal.Incompatible, $"{What}: the snapshot has XCRs, and this host's KVM lacks KVM_CAP_XCRS");

        // The order KVM needs (api.rst, and the notes in Firecracker's restore_state):
        // CPUID before everything (it decides which MSRs and XSAVE components exist); SET_REGS before
        // SET_VCPU_EVENTS (it drops a pending exception that events restore); SET_SREGS before SET_LAPIC (it
        // carries the APIC base); SET_LAPIC before SET_MSRS (the TSC deadline arms only with the APIC set up);
        // MSR_IA32_TSC before MSR_IA32_TSC_DEADLINE; SET_VCPU_EVENTS last.
        SetCpuid(cpuid);
        if (tscKhz is { } khz)
            RestoreTscKhz(khz);
        Check(Libc.Ioctl(_fd, KvmIoctl.SetMpState, &mp), "KVM_SET_MP_STATE");
        SetRegisters(regs);
        SetSpecialRegisters(sregs);
        if (xsave is not null)
            SetXsave(xsave, kvm.XsaveSize);
        else
        {
            KvmFpu f = fpu!.Value;
            Check(Libc.Ioctl(_fd, KvmIoctl.SetFpu, &f), "KVM_SET_FPU");
        }
        if (xcrs is { } x)
            Check(Libc.Ioctl(_fd, KvmIoctl.SetXcrs, &x), "KVM_SET_XCRS");
        Check(Libc.Ioctl(_fd, KvmIoctl.SetDebugRegs, &debug), "KVM_SET_DEBUGREGS");
        if (lapic is { } l)
            SetLocalApic(l);
        SetMsrs([.. msrs.Where(m => m.Index != MsrIa32TscDeadline)]);
        SetMsrs([.. msrs.Where(m => m.Index == MsrIa32TscDeadline)]);
        Check(Libc.Ioctl(_fd, KvmIoctl.SetVcpuEvents, &events), "KVM_SET_VCPU_EVENTS");
        NotifyClockPaused();
    }

    /// <summary>
    /// Tells the guest's kvmclock that the vCPU was stopped (KVM_KVMCLOCK_CTRL), so its soft-lockup watchdog does not
    /// count the time it was paused or in a snapshot. Nothing to do when the guest never enabled kvmclock (EINVAL).
    /// </summary>
    internal void NotifyClockPaused()
    {
        if (!_vm.Kvm.HasKvmclockCtrl)
            return;
        if (Libc.Ioctl(_fd, KvmIoctl.KvmclockCtrl, 0) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Libc.EINVAL)
                throw HypervisorException.FromErrno($"KVM_KVMCLOCK_CTRL ({What})", errno);
        }
    }

    /// <summary>The size of struct kvm_xsave without its flexible tail: the legacy 4 KiB region.</summary>
    private const int KvmXsaveMinimumSize = 4096;

    /// <summary>
    /// Finishes the I/O or MMIO exit <see cref="Run"/> last returned: KVM completes it (stores an IN's data, moves
    /// RIP past the instruction) only when KVM_RUN is entered again, and keeps that pending state where no GET
    /// reaches it (api.rst §5, kvm_run). KVM_RUN with immediate_exit set completes it and returns EINTR
    /// before running any guest instruction.
    /// </summary>
    private void CompletePendingExit()
    {
        if (_pendingIoElements > 0)
            throw new HypervisorException($"{What} is inside a string I/O instruction; let it finish before capturing its state");
        if (!_exitNeedsCompletion)
            return;
        if (!_vm.Kvm.HasImmediateExit)
            throw new HypervisorException($"{What}: this host's KVM lacks KVM_CAP_IMMEDIATE_EXIT, needed to finish an I/O exit before a snapshot");
        Volatile.Write(ref RunHeader->ImmediateExit, 1);
        int rc = Libc.Ioctl(_fd, KvmIoctl.Run, 0);
        int errno = Marshal.GetLastPInvokeError();
        Volatile.Write(ref RunHeader->ImmediateExit, 0);
        if (rc >= 0 || errno != Libc.EINTR)
            throw rc >= 0
                ? new HypervisorException($"{What}: KVM_RUN with immediate_exit ran the guest (exit reason {RunHeader->ExitReason})")
                : HypervisorException.FromErrno($"KVM_RUN with immediate_exit ({What})", errno);
        _exitNeedsCompletion = false;
    }

    private void SetCpuid(KvmCpuidEntry2[] entries)
    {
        int bytes = sizeof(KvmCpuid2) + entries.Length * sizeof(KvmCpuidEntry2);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            // Safety: buffer holds the head and entries.Length entries.
            ((KvmCpuid2*)buffer)->Nent = (uint)entries.Length;
            entries.AsSpan().CopyTo(new Span<KvmCpuidEntry2>(buffer + sizeof(KvmCpuid2), entries.Length));
            Check(Libc.Ioctl(_fd, KvmIoctl.SetCpuid2, buffer), "KVM_SET_CPUID2");
            _cpuid = entries;
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    private bool TryGetTscKhz(out uint khz)
    {
        khz = 0;
        if (!_vm.Kvm.HasGetTscKhz)
            return false;
        int rc = Libc.Ioctl(_fd, KvmIoctl.GetTscKhz, 0);
        if (rc <= 0)
            return false; // no stable TSC frequency known: the snapshot then restores at whatever this host has
        khz = (uint)rc;
        return true;
    }

    /// <summary>
    /// Gives the vCPU the TSC frequency it had: within 250 ppm of this host's counts as the same (calibrations
    /// differ by that much, as QEMU and Firecracker allow); otherwise KVM scales it (KVM_SET_TSC_KHZ) where it can.
    /// </summary>
    private void RestoreTscKhz(uint khz)
    {
        if (!TryGetTscKhz(out uint here) || Math.Abs((long)here - khz) * 1_000_000 <= 250L * khz)
            return;
        if (!_vm.Kvm.HasTscControl)
            throw new SnapshotException(SnapshotRefusal.Incompatible,
                $"{What}: the snapshot's TSC runs at {khz} kHz, this host's at {here} kHz, and its KVM cannot scale the TSC (no KVM_CAP_TSC_CONTROL)");
        Check(Libc.Ioctl(_fd, KvmIoctl.SetTscKhz, (nuint)khz), $"KVM_SET_TSC_KHZ {khz}");
    }

    private byte[] GetXsave(int size)
    {
        var image = new byte[size];
        fixed (byte* buffer = image)
        {
            // KVM_GET_XSAVE2 fills as many bytes as KVM_CAP_XSAVE2 said; KVM_GET_XSAVE the legacy 4 KiB.
            if (_vm.Kvm.HasXsave2)
                Check(Libc.Ioctl(_fd, KvmIoctl.GetXsave2, buffer), "KVM_GET_XSAVE2");
            else
                Check(Libc.Ioctl(_fd, KvmIoctl.GetXsave, buffer), "KVM_GET_XSAVE");
        }
        return image;
    }

    private void SetXsave(byte[] image, int hostSize)
    {
        // KVM_SET_XSAVE reads as many bytes as this host's KVM_CAP_XSAVE2 says: a shorter image (from a host
        // with fewer dynamic components) is padded with zeros, which XSTATE_BV marks as unused.
        var buffer = new byte[Math.Max(hostSize, image.Length)];
        image.CopyTo(buffer, 0);
        fixed (byte* p = buffer)
            Check(Libc.Ioctl(_fd, KvmIoctl.SetXsave, p), "KVM_SET_XSAVE");
    }

    /// <summary>
    /// Reads the MSRs of <paramref name="indices"/> this vCPU has. KVM_GET_MSRS stops at the first MSR it cannot
    /// read (one KVM lists but this vCPU's CPUID does not enable, a PMU counter without a PMU): that one is left out,
    /// and the rest read on, so the result is every MSR the vCPU holds.
    /// </summary>
    private KvmMsrEntry[] GetMsrs(ReadOnlySpan<uint> indices)
    {
        var result = new List<KvmMsrEntry>(indices.Length);
        int bytes = sizeof(KvmMsrs) + MsrsPerCall * sizeof(KvmMsrEntry);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            var entries = new Span<KvmMsrEntry>(buffer + sizeof(KvmMsrs), MsrsPerCall);
            int next = 0;
            // Each round reads at least one MSR or drops one, so this ends within 2 × indices.Length rounds.
            while (next < indices.Length)
            {
                int count = Math.Min(MsrsPerCall, indices.Length - next);
                for (int i = 0; i < count; i++)
                    entries[i] = new KvmMsrEntry { Index = indices[next + i] };
                ((KvmMsrs*)buffer)->Nmsrs = (uint)count;
                int read = Libc.Ioctl(_fd, KvmIoctl.GetMsrs, buffer);
                if (read < 0)
                    throw HypervisorException.FromErrno($"KVM_GET_MSRS ({What})", Marshal.GetLastPInvokeError());
                read = Math.Min(read, count);
                for (int i = 0; i < read; i++)
                    result.Add(entries[i]);
                next += read < count ? read + 1 : read; // skip the one KVM refused
            }
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
        return [.. result];
    }

    private void SetMsrs(KvmMsrEntry[] msrs)
    {
        int bytes = sizeof(KvmMsrs) + MsrsPerCall * sizeof(KvmMsrEntry);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            var entries = new Span<KvmMsrEntry>(buffer + sizeof(KvmMsrs), MsrsPerCall);
            for (int next = 0; next < msrs.Length; next += MsrsPerCall)
            {
                int count = Math.Min(MsrsPerCall, msrs.Length - next);
                msrs.AsSpan(next, count).CopyTo(entries);
                ((KvmMsrs*)buffer)->Nmsrs = (uint)count;
                int set = Libc.Ioctl(_fd, KvmIoctl.SetMsrs, buffer);
                if (set < 0)
                    throw HypervisorException.FromErrno($"KVM_SET_MSRS ({What})", Marshal.GetLastPInvokeError());
                // KVM_SET_MSRS returns how many it set, stopping at the first it refused.
                if (set < count)
                    throw new SnapshotException(SnapshotRefusal.Incompatible,
                        $"{What}: this host's KVM refused MSR 0x{msrs[next + set].Index:x} = 0x{msrs[next + set].Data:x} from the snapshot");
            }
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    private static byte[] Image<T>(in T value) where T : unmanaged =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)).ToArray();
}
