using System.Runtime.InteropServices;
using Lguest.Hypervisor;
using Lguest.Interop;

namespace Lguest.Kvm;

/// <summary>
/// One KVM vCPU: its fd, the kvm_run page shared with the kernel, and the run loop that turns
/// KVM exits into <see cref="VcpuExit"/> values without allocating on the I/O paths.
/// </summary>
internal sealed unsafe partial class KvmVcpu : IVcpu
{
    private readonly KvmVirtualMachine _vm;
    private readonly FileDescriptor _fd;
    private readonly byte* _run;
    private readonly nuint _runSize;

    // String I/O (ins/outs with a count): KVM hands over all elements at once; they are presented
    // one access at a time, and KVM_RUN is entered again only after the last.
    private int _pendingIoElements;
    private int _ioElementSize;
    private int _ioElementOffset;
    private ushort _ioPort;
    private bool _ioIn;

    private bool _exitNeedsCompletion; // the last exit was I/O or MMIO, which KVM finishes at the next KVM_RUN
    private int _threadId;          // the thread that runs this vCPU, for kicks; 0 until it first runs
    private int _exitRequested;     // RequestExit was called and no Run has returned Interrupted since
    private int _kickSent;          // a kick signal may be pending on the vCPU thread
    private readonly Lock _kickLock = new();
    private bool _disposed;

    public KvmVcpu(KvmVirtualMachine vm, FileDescriptor fd, int index)
    {
        _vm = vm;
        _fd = fd;
        Index = index;
        _runSize = (nuint)vm.Kvm.VcpuMmapSize;
        nint run = Libc.Mmap(0, _runSize, Libc.ProtRead | Libc.ProtWrite, Libc.MapShared, fd.Number, 0);
        if (run == Libc.MapFailed)
            throw HypervisorException.FromErrno("mmap kvm_run", Marshal.GetLastPInvokeError());
        _run = (byte*)run;
    }

    public int Index { get; }

    private KvmRun* RunHeader => (KvmRun*)_run;

    /// <summary>
    /// The calling thread's kernel id, asked of the kernel once per thread: gettid(2) is a system call every
    /// time, and Run checks the thread on every exit, which should cost exactly one system call (KVM_RUN).
    /// </summary>
    private static int CurrentThreadId => t_threadId != 0 ? t_threadId : (t_threadId = Libc.GetTid());

    [ThreadStatic]
    private static int t_threadId;

    public VcpuExit Run()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_threadId != CurrentThreadId)
            AttachToCurrentThread();

        if (_pendingIoElements > 0)
        {
            // The previous access was one element of a string I/O: present the next without re-entering.
            _ioElementOffset += _ioElementSize;
            _pendingIoElements--;
            return IoExit();
        }

        while (true)
        {
            if (Volatile.Read(ref _exitRequested) != 0)
                return Interrupted();
            _exitNeedsCompletion = false;
            int rc = Libc.Ioctl(_fd, KvmIoctl.Run, 0);
            if (rc < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is Libc.EINTR or Libc.EAGAIN)
                    return Interrupted();
                throw HypervisorException.FromErrno($"KVM_RUN (vCPU {Index})", errno);
            }
            // Safety: _run maps the whole kvm_run structure (VcpuMmapSize >= sizeof(kvm_run)) for this vCPU's life.
            uint reason = RunHeader->ExitReason;
            switch (reason)
            {
                case KvmIoctl.ExitIo:
                    return BeginIo();
                case KvmIoctl.ExitMmio:
                    return MmioExit();
                case KvmIoctl.ExitHlt:
                    return new VcpuExit(VcpuExitReason.Halt);
                case KvmIoctl.ExitIntr:
                    return Interrupted();
                case KvmIoctl.ExitIrqWindowOpen:
                    continue;
                case KvmIoctl.ExitShutdown:
                    return new VcpuExit(VcpuExitReason.Shutdown, detail: $"vCPU {Index} triple-faulted (KVM_EXIT_SHUTDOWN) {DescribeShutdownRip()}");
                case KvmIoctl.ExitSystemEvent:
                    return SystemEventExit();
                case KvmIoctl.ExitFailEntry:
                    var fail = (KvmRunFailEntry*)(_run + KvmRun.ExitUnionOffset);
                    return new VcpuExit(VcpuExitReason.Failed, detail:
                        $"vCPU {Index}: KVM_EXIT_FAIL_ENTRY, hardware entry failure reason 0x{fail->HardwareEntryFailureReason:x} on host CPU {fail->Cpu}");
                case KvmIoctl.ExitInternalError:
                    return new VcpuExit(VcpuExitReason.Failed, detail: DescribeInternalError());
                default:
                    return new VcpuExit(VcpuExitReason.Failed, detail: $"vCPU {Index}: unexpected KVM exit reason {reason} at {DescribeRip()}");
            }
        }
    }

    public void RequestExit()
    {
        if (_disposed)
            return;
        Volatile.Write(ref _exitRequested, 1);
        // immediate_exit covers a vCPU between our check and KVM_RUN's entry; the signal one already inside.
        if (_vm.Kvm.HasImmediateExit)
            Volatile.Write(ref RunHeader->ImmediateExit, 1);
        lock (_kickLock)
        {
            int thread = _threadId;
            if (thread != 0 && Interlocked.Exchange(ref _kickSent, 1) == 0)
                VcpuKick.Send(thread);
        }
    }

    public void NotifyGuestPaused()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        NotifyClockPaused();
    }

    public void Dispose()
    {
        lock (_kickLock)
        {
            if (_disposed)
                return;
            _disposed = true;
            _threadId = 0;
        }
        _ = Libc.Munmap((nint)_run, _runSize);
        _fd.Dispose();
    }

    private void AttachToCurrentThread()
    {
        ulong runMask = VcpuKick.BlockOnCurrentThread();
        // KVM_RUN swaps this mask in while the guest runs: the kick is deliverable only then.
        var mask = new KvmSignalMask { Len = 8, Sigset = runMask };
        if (Libc.Ioctl(_fd, KvmIoctl.SetSignalMask, &mask) < 0)
            throw HypervisorException.FromErrno("KVM_SET_SIGNAL_MASK", Marshal.GetLastPInvokeError());
        lock (_kickLock)
        {
            _threadId = CurrentThreadId;
            // A kick aimed at a previous thread may have been lost; the request flag still holds.
            _kickSent = 0;
        }
    }

    private VcpuExit Interrupted()
    {
        RunHeader->ImmediateExit = 0;
        Volatile.Write(ref _exitRequested, 0);
        if (Interlocked.Exchange(ref _kickSent, 0) != 0)
            VcpuKick.Drain();
        return new VcpuExit(VcpuExitReason.Interrupted);
    }

    private VcpuExit BeginIo()
    {
        var io = (KvmRunIo*)(_run + KvmRun.ExitUnionOffset);
        int size = io->Size;
        uint count = io->Count;
        ulong offset = io->DataOffset;
        // KVM fills these, but a bad value would make us index outside the mapping: check them once.
        if (size is not (1 or 2 or 4) || count == 0 || offset > _runSize || (ulong)size * count > _runSize - offset)
            return new VcpuExit(VcpuExitReason.Failed, detail: $"vCPU {Index}: KVM_EXIT_IO with size {size}, count {count}, offset {offset}");
        _ioPort = io->Port;
        _ioIn = io->Direction == KvmIoctl.ExitIoIn;
        _ioElementSize = size;
        _ioElementOffset = (int)offset;
        _pendingIoElements = (int)count - 1;
        return IoExit();
    }

    private VcpuExit IoExit()
    {
        _exitNeedsCompletion = true;
        // Safety: BeginIo checked [offset, offset + size * count) lies inside the kvm_run mapping.
        return new(_ioIn ? VcpuExitReason.IoIn : VcpuExitReason.IoOut, _ioPort, new Span<byte>(_run + _ioElementOffset, _ioElementSize));
    }

    private VcpuExit MmioExit()
    {
        var mmio = (KvmRunMmio*)(_run + KvmRun.ExitUnionOffset);
        uint length = mmio->Len;
        if (length is 0 or > 8)
            return new VcpuExit(VcpuExitReason.Failed, detail: $"vCPU {Index}: KVM_EXIT_MMIO with length {length}");
        _exitNeedsCompletion = true;
        // Safety: data is the 8-byte array inside the mapped kvm_run; length <= 8.
        var data = new Span<byte>(mmio->Data, (int)length);
        return new VcpuExit(mmio->IsWrite != 0 ? VcpuExitReason.MmioWrite : VcpuExitReason.MmioRead, mmio->PhysAddr, data);
    }

    private VcpuExit SystemEventExit()
    {
        var system = (KvmRunSystemEvent*)(_run + KvmRun.ExitUnionOffset);
        return system->Type switch
        {
            KvmIoctl.SystemEventShutdown => new VcpuExit(VcpuExitReason.PowerOff),
            KvmIoctl.SystemEventReset => new VcpuExit(VcpuExitReason.Reset),
            KvmIoctl.SystemEventCrash => new VcpuExit(VcpuExitReason.Failed, detail: $"vCPU {Index}: the guest reported a crash (KVM_SYSTEM_EVENT_CRASH)"),
            uint other => new VcpuExit(VcpuExitReason.Failed, detail: $"vCPU {Index}: unexpected KVM system event {other}"),
        };
    }

    private string DescribeInternalError()
    {
        var error = (KvmRunInternal*)(_run + KvmRun.ExitUnionOffset);
        uint suberror = error->Suberror;
        string kind = suberror switch
        {
            KvmIoctl.InternalErrorEmulation => "emulation failure",
            KvmIoctl.InternalErrorSimulEx => "exception while delivering an exception",
            KvmIoctl.InternalErrorDeliveryEv => "event delivery failed",
            KvmIoctl.InternalErrorUnexpectedExitReason => "unexpected exit reason",
            _ => "unknown",
        };
        uint count = Math.Min(error->Ndata, 16u);
        var data = new System.Text.StringBuilder();
        for (int i = 0; i < count; i++)
            data.Append(i == 0 ? "" : " ").Append("0x").Append(error->Data[i].ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        string instruction = "";
        // With KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES, data[0] is flags, then insn_size and the bytes.
        if (suberror == KvmIoctl.InternalErrorEmulation && count >= 3 && (error->Data[0] & 1) != 0)
        {
            byte* bytes = (byte*)&error->Data[1];
            int size = Math.Min((int)bytes[0], 15);
            instruction = "; instruction bytes " + Convert.ToHexString(new ReadOnlySpan<byte>(bytes + 1, size)).ToLowerInvariant();
        }
        return $"vCPU {Index}: KVM_EXIT_INTERNAL_ERROR, suberror {suberror} ({kind}) at {DescribeRip()}{instruction}" +
            (count > 0 ? $"; data {data}" : "");
    }

    // KVM on AMD resets the vCPU when it intercepts a shutdown (the VMCB is undefined after one), so the registers
    // read after KVM_EXIT_SHUTDOWN there are the reset state, not the fault's: say so rather than point at 0xfff0.
    private string DescribeShutdownRip()
    {
        try
        {
            KvmRegs regs = GetRegisters();
            KvmSregs sregs = GetSpecialRegisters();
            string rip = Describe(regs, sregs);
            return regs.Rip == 0xFFF0 && sregs.Cs.Base == 0xFFFF_0000
                ? $"(the registers are already at the reset vector, {rip}: KVM on AMD resets a vCPU at a shutdown, so where it faulted is lost)"
                : $"at {rip}";
        }
        catch (HypervisorException e)
        {
            return $"at an unknown RIP ({e.Message})";
        }
    }

    private static string Describe(in KvmRegs regs, in KvmSregs sregs) =>
        $"RIP 0x{regs.Rip:x} (CS base 0x{sregs.Cs.Base:x}, CR0 0x{sregs.Cr0:x})";

    private string DescribeRip()
    {
        try
        {
            return Describe(GetRegisters(), GetSpecialRegisters());
        }
        catch (HypervisorException e)
        {
            return $"an unknown RIP ({e.Message})";
        }
    }
}
