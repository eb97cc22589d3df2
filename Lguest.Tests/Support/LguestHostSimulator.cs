using System.Buffers.Binary;
using System.Text;
using Lguest.DevLguest;

namespace Lguest.Tests.Support;

/// <summary>
/// Plays the 4.x lguest Host behind /dev/lguest (drivers/lguest/lguest_user.c and core.c run_guest) from a
/// script: each read that runs the guest takes the next step (a trap with real instruction bytes, the guest's
/// death, a reboot request, or a block until a kick). It serves LHREQ_GETREG/SETREG from a register file
/// with the Host's access rules, records LHREQ_INITIALIZE, LHREQ_IRQ and LHREQ_TRAP, and answers with the
/// Host's errnos (EINVAL, EBUSY, ENOENT, ERESTART, EINTR).
/// </summary>
internal sealed class LguestHostSimulator : ILguestDevice
{
    public const int EINTR = 4, ENOENT = 2, EFAULT = 14, EBUSY = 16, EINVAL = 22, ERESTART = 85;

    /// <summary>__KERNEL_CS | GUEST_PL on i386 (0x60 | 1): the guest kernel's code segment, RPL 1.</summary>
    public const uint GuestKernelCs = 0x61;

    /// <summary>__KERNEL_DS | GUEST_PL.</summary>
    public const uint GuestKernelDs = 0x69;

    private static readonly uint[] Writable =
        [UserRegs.Ebx, UserRegs.Ecx, UserRegs.Edx, UserRegs.Esi, UserRegs.Edi, UserRegs.Ebp, UserRegs.Eax, UserRegs.Eip, UserRegs.Esp];

    private static readonly uint[] ReadOnly =
        [UserRegs.Xds, UserRegs.Xes, UserRegs.Xfs, UserRegs.Xgs, UserRegs.Xcs, UserRegs.Eflags, UserRegs.Xss];

    private readonly Queue<Step> _script = new();
    private readonly uint[] _registers = new uint[UserRegs.Size / 4];
    private readonly SemaphoreSlim _kick = new(0);
    private uint? _registerToRead;
    private string? _deathReason;
    private bool _restart;
    private int _blocked;

    /// <summary>What LHREQ_INITIALIZE carried, once written.</summary>
    public (uint Base, uint PfnLimit, uint Start, uint DeviceLimit)? Initialized { get; private set; }

    /// <summary>The raw bytes of every request written, in order.</summary>
    public List<byte[]> Requests { get; } = [];

    /// <summary>Interrupts raised with LHREQ_IRQ, in order.</summary>
    public List<uint> Irqs { get; } = [];

    /// <summary>Traps re-injected with LHREQ_TRAP, in order.</summary>
    public List<uint> Traps { get; } = [];

    /// <summary>The register file as it was each time the guest was run (before the step's own changes).</summary>
    public List<uint[]> RunSnapshots { get; } = [];

    /// <summary>Kicks that found no read blocked (a real signal would have been absorbed by its handler).</summary>
    public int LostKicks { get; private set; }

    /// <summary>Steps not yet taken.</summary>
    public int Remaining => _script.Count;

    public bool Disposed { get; private set; }

    public uint this[uint offset]
    {
        get => _registers[offset / 4];
        set => _registers[offset / 4] = value;
    }

    /// <summary>The guest faults with <paramref name="trap"/> on <paramref name="instruction"/> after setting <paramref name="registers"/>.</summary>
    public LguestHostSimulator Trap(byte trap, byte[] instruction, uint address = 0, params (uint Offset, uint Value)[] registers)
    {
        _script.Enqueue(new Step(StepKind.Trap, trap, instruction, address, registers, null));
        return this;
    }

    /// <summary>Port I/O that faults with #GP (13).</summary>
    public LguestHostSimulator PortIo(byte[] instruction, params (uint Offset, uint Value)[] registers) =>
        Trap(13, instruction, 0, registers);

    /// <summary>An access to the device window that faults with #PF (14) at <paramref name="address"/>.</summary>
    public LguestHostSimulator Mmio(byte[] instruction, uint address, params (uint Offset, uint Value)[] registers) =>
        Trap(14, instruction, address, registers);

    /// <summary>kill_guest(<paramref name="reason"/>): the run fails with ENOENT, the next read returns the reason.</summary>
    public LguestHostSimulator Die(string reason)
    {
        _script.Enqueue(new Step(StepKind.Die, 0, [], 0, [], reason));
        return this;
    }

    /// <summary>LHCALL_SHUTDOWN with LGUEST_SHUTDOWN_RESTART: the run fails with ERESTART.</summary>
    public LguestHostSimulator Restart()
    {
        _script.Enqueue(new Step(StepKind.Restart, 0, [], 0, [], null));
        return this;
    }

    /// <summary>The guest runs on (halts, computes) until a kick's signal makes the read return EINTR.</summary>
    public LguestHostSimulator BlockUntilKicked()
    {
        _script.Enqueue(new Step(StepKind.Block, 0, [], 0, [], null));
        return this;
    }

    public int Write(ReadOnlySpan<byte> request, long offset)
    {
        Requests.Add(request.ToArray());
        if (request.Length < 4)
            return -EFAULT;
        var req = (LguestRequest)Word(request, 0);
        if (req != LguestRequest.Initialize)
        {
            if (Initialized is null || offset != 0)
                return -EINVAL;
            if (_deathReason is not null || _restart)
                return -ENOENT;
        }
        switch (req)
        {
            case LguestRequest.Initialize:
                if (Initialized is not null)
                    return -EBUSY;
                if (request.Length < 20)
                    return -EFAULT;
                Initialized = (Word(request, 1), Word(request, 2), Word(request, 3), Word(request, 4));
                // lguest_arch_setup_regs: ring-1 flat segments, interrupts on, EIP at start, ESI 0 (boot info at 0).
                this[UserRegs.Eip] = Word(request, 3);
                this[UserRegs.Xcs] = GuestKernelCs;
                this[UserRegs.Xds] = this[UserRegs.Xes] = this[UserRegs.Xss] = GuestKernelDs;
                this[UserRegs.Eflags] = 0x202;
                return 16;
            case LguestRequest.Irq:
                if (request.Length < 8)
                    return -EFAULT;
                if (Word(request, 1) >= 224)
                    return -EINVAL;
                Irqs.Add(Word(request, 1));
                return 0;
            case LguestRequest.GetReg:
                if (request.Length < 8)
                    return -EFAULT;
                uint which = Word(request, 1);
                if (!Writable.Contains(which) && !ReadOnly.Contains(which))
                    return -ENOENT;
                _registerToRead = which;
                return 8;
            case LguestRequest.SetReg:
                if (request.Length < 12)
                    return -EFAULT;
                uint target = Word(request, 1);
                if (!Writable.Contains(target))
                    return -ENOENT;
                this[target] = Word(request, 2);
                return 12;
            case LguestRequest.Trap:
                if (request.Length < 8)
                    return -EFAULT;
                Traps.Add(Word(request, 1));
                return 0;
            default:
                return -EINVAL;
        }
    }

    public int Read(Span<byte> buffer, long offset)
    {
        if (Initialized is null || offset != 0)
            return -EINVAL;
        if (_restart)
            return -ERESTART;
        if (_deathReason is not null)
        {
            byte[] text = Encoding.UTF8.GetBytes(_deathReason + "\0");
            int length = Math.Min(buffer.Length, text.Length);
            text.AsSpan(0, length).CopyTo(buffer);
            return length;
        }
        if (_registerToRead is uint register)
        {
            _registerToRead = null;
            BinaryPrimitives.WriteUInt32LittleEndian(buffer, this[register]);
            return 4;
        }
        if (!_script.TryDequeue(out Step? step))
            throw new InvalidOperationException("the launcher ran the guest past the end of the script");
        RunSnapshots.Add((uint[])_registers.Clone());
        switch (step.Kind)
        {
            case StepKind.Trap:
                foreach ((uint o, uint v) in step.Registers)
                    this[o] = v;
                if (buffer.Length < LguestPending.Size)
                    return -EFAULT;
                LguestPending.Write(buffer, step.Trap, step.Instruction, step.Address);
                return LguestPending.Size;
            case StepKind.Die:
                _deathReason = step.Reason;
                return -ENOENT;
            case StepKind.Restart:
                _restart = true;
                return -ERESTART;
            default:
                Interlocked.Exchange(ref _blocked, 1);
                _kick.Wait();
                Interlocked.Exchange(ref _blocked, 0);
                return -EINTR;
        }
    }

    public void Interrupt(int threadId)
    {
        if (Volatile.Read(ref _blocked) != 0 && _kick.CurrentCount == 0)
            _kick.Release();
        else
            LostKicks++;
    }

    public void Dispose() => Disposed = true;

    private static uint Word(ReadOnlySpan<byte> request, int index) =>
        index * 4 + 4 <= request.Length ? BinaryPrimitives.ReadUInt32LittleEndian(request[(index * 4)..]) : 0;

    private enum StepKind { Trap, Die, Restart, Block }

    private sealed record Step(StepKind Kind, byte Trap, byte[] Instruction, uint Address, (uint Offset, uint Value)[] Registers, string? Reason);
}
