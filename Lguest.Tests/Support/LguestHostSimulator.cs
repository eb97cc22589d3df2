using System.Buffers.Binary;
using System.Runtime.InteropServices;
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
/// <remarks>
/// It also plays the guest's CPU between traps where a whole-machine test needs it: stores to guest RAM
/// (which a real guest makes without trapping), a loop re-reading a register until a bit shows, a halt until
/// an interrupt arrives, and reads of RAM for the test to check. Requests may come from any thread (device
/// workers raise interrupts); the run steps come from the vCPU thread.
/// </remarks>
internal sealed class LguestHostSimulator : ILguestDevice
{
    public const int EINTR = 4, ENOENT = 2, EFAULT = 14, EBUSY = 16, EINVAL = 22, ERESTART = 85;

    /// <summary>__KERNEL_CS | GUEST_PL on i386 (0x60 | 1): the guest kernel's code segment, RPL 1.</summary>
    public const uint GuestKernelCs = 0x61;

    /// <summary>__KERNEL_DS | GUEST_PL.</summary>
    public const uint GuestKernelDs = 0x69;

    /// <summary>A guard against a test that waits for something that never comes: the step fails instead of hanging.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(1);

    private static readonly uint[] Writable =
        [UserRegs.Ebx, UserRegs.Ecx, UserRegs.Edx, UserRegs.Esi, UserRegs.Edi, UserRegs.Ebp, UserRegs.Eax, UserRegs.Eip, UserRegs.Esp];

    private static readonly uint[] ReadOnly =
        [UserRegs.Xds, UserRegs.Xes, UserRegs.Xfs, UserRegs.Xgs, UserRegs.Xcs, UserRegs.Eflags, UserRegs.Xss];

    private readonly Queue<Step> _script = new();
    private readonly uint[] _registers = new uint[UserRegs.Size / 4];
    private readonly object _lock = new(); // Monitor: the waits below sleep on it
    private uint? _registerToRead;
    private string? _deathReason;
    private bool _restart;
    private bool _waiting;
    private bool _kicked;
    private int _irqsSeenByGuest; // LHREQ_IRQs a WaitForInterrupt step has already consumed
    private Step? _loadInFlight;

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

    /// <summary>What each recorded load (<see cref="Load"/>, <see cref="Poll"/>) put in EAX, masked to its width, in order.</summary>
    public List<uint> Loads { get; } = [];

    /// <summary>The guest RAM each <see cref="Peek"/> step read, in order.</summary>
    public List<byte[]> Peeks { get; } = [];

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

    /// <summary>
    /// A trapping load (<paramref name="trap"/> 13 for <c>in</c>, 14 for a <c>mov</c> from the window) whose result,
    /// EAX masked to <paramref name="width"/> bytes once the launcher completed it, goes to <see cref="Loads"/>.
    /// </summary>
    public LguestHostSimulator Load(byte trap, byte[] instruction, uint address, int width, params (uint Offset, uint Value)[] registers)
    {
        _script.Enqueue(new Step(StepKind.Load, trap, instruction, address, registers, null) { Width = width });
        return this;
    }

    /// <summary>
    /// A guest loop around a trapping load: the same trap again each run until its result has a bit of
    /// <paramref name="mask"/> set; the final result goes to <see cref="Loads"/>.
    /// </summary>
    public LguestHostSimulator Poll(byte trap, byte[] instruction, uint address, int width, uint mask, params (uint Offset, uint Value)[] registers)
    {
        _script.Enqueue(new Step(StepKind.Poll, trap, instruction, address, registers, null) { Width = width, Mask = mask });
        return this;
    }

    /// <summary>The guest stores <paramref name="bytes"/> to its RAM at <paramref name="address"/> (no trap: RAM is the guest's).</summary>
    public LguestHostSimulator WriteMemory(uint address, byte[] bytes)
    {
        _script.Enqueue(new Step(StepKind.WriteMemory, 0, bytes, address, [], null));
        return this;
    }

    /// <summary>The test reads <paramref name="length"/> bytes of guest RAM at <paramref name="address"/> into <see cref="Peeks"/>.</summary>
    public LguestHostSimulator Peek(uint address, int length)
    {
        _script.Enqueue(new Step(StepKind.Peek, 0, new byte[length], address, [], null));
        return this;
    }

    /// <summary>The guest halts until an LHREQ_IRQ it has not yet seen arrives, then runs on (its handler is the next step).</summary>
    public LguestHostSimulator WaitForInterrupt()
    {
        _script.Enqueue(new Step(StepKind.WaitForIrq, 0, [], 0, [], null));
        return this;
    }

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
        lock (_lock)
        {
            int rc = WriteLocked(request, offset);
            Monitor.PulseAll(_lock);
            return rc;
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

        // The load the guest last trapped on has been completed by the launcher: its value is in EAX.
        if (_loadInFlight is { } load)
        {
            _loadInFlight = null;
            uint value = this[UserRegs.Eax] & WidthMask(load.Width);
            if (load.Kind == StepKind.Poll && (value & load.Mask) == 0)
            {
                Thread.Yield(); // the guest's loop goes round again
                return Issue(load, buffer);
            }
            Loads.Add(value);
        }

        while (true)
        {
            if (!_script.TryDequeue(out Step? step))
                throw new InvalidOperationException("the launcher ran the guest past the end of the script");
            switch (step.Kind)
            {
                case StepKind.WriteMemory:
                    Marshal.Copy(step.Instruction, 0, GuestPointer(step.Address, step.Instruction.Length), step.Instruction.Length);
                    continue;
                case StepKind.Peek:
                    byte[] bytes = new byte[step.Instruction.Length];
                    Marshal.Copy(GuestPointer(step.Address, bytes.Length), bytes, 0, bytes.Length);
                    Peeks.Add(bytes);
                    continue;
                case StepKind.WaitForIrq:
                    if (!WaitFor(newInterrupt: true))
                        return -EINTR;
                    continue;
            }
            RunSnapshots.Add((uint[])_registers.Clone());
            switch (step.Kind)
            {
                case StepKind.Trap:
                case StepKind.Load:
                case StepKind.Poll:
                    return Issue(step, buffer);
                case StepKind.Die:
                    _deathReason = step.Reason;
                    return -ENOENT;
                case StepKind.Restart:
                    _restart = true;
                    return -ERESTART;
                default:
                    WaitFor(newInterrupt: false);
                    return -EINTR;
            }
        }
    }

    public void Interrupt(int threadId)
    {
        lock (_lock)
        {
            if (_waiting && !_kicked)
            {
                _kicked = true;
                Monitor.PulseAll(_lock);
            }
            else
            {
                LostKicks++;
            }
        }
    }

    public void Dispose() => Disposed = true;

    private int WriteLocked(ReadOnlySpan<byte> request, long offset)
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

    private int Issue(Step step, Span<byte> buffer)
    {
        foreach ((uint o, uint v) in step.Registers)
            this[o] = v;
        if (buffer.Length < LguestPending.Size)
            return -EFAULT;
        if (step.Kind is StepKind.Load or StepKind.Poll)
            _loadInFlight = step;
        LguestPending.Write(buffer, step.Trap, step.Instruction, step.Address);
        return LguestPending.Size;
    }

    /// <summary>Blocks like a halted guest until a new interrupt arrives (true) or a kick comes (false).</summary>
    private bool WaitFor(bool newInterrupt)
    {
        lock (_lock)
        {
            // An interrupt raised before the guest reached its halt is still pending for it, as on a
            // real Host: only interrupts an earlier wait consumed count as seen.
            _waiting = true;
            try
            {
                while (!newInterrupt || Irqs.Count == _irqsSeenByGuest)
                {
                    if (_kicked)
                        return false;
                    if (!Monitor.Wait(_lock, HangGuard))
                        throw new InvalidOperationException("the guest waited a minute for an interrupt that never came");
                }
                if (newInterrupt)
                    _irqsSeenByGuest = Irqs.Count;
                return true;
            }
            finally
            {
                _waiting = false;
                _kicked = false;
            }
        }
    }

    private nint GuestPointer(uint address, int length)
    {
        (uint memoryBase, uint pfnLimit, _, _) = Initialized!.Value;
        if ((ulong)address + (ulong)length > (ulong)pfnLimit * 4096)
            throw new InvalidOperationException($"the script touches [0x{address:x}, +{length}) outside guest RAM");
        return (nint)(memoryBase + (ulong)address);
    }

    private static uint WidthMask(int width) => width >= 4 ? uint.MaxValue : (1u << (8 * width)) - 1;

    private static uint Word(ReadOnlySpan<byte> request, int index) =>
        index * 4 + 4 <= request.Length ? BinaryPrimitives.ReadUInt32LittleEndian(request[(index * 4)..]) : 0;

    private enum StepKind { Trap, Load, Poll, WriteMemory, Peek, WaitForIrq, Die, Restart, Block }

    private sealed record Step(StepKind Kind, byte Trap, byte[] Instruction, uint Address, (uint Offset, uint Value)[] Registers, string? Reason)
    {
        public int Width { get; init; } = 4;

        public uint Mask { get; init; }
    }
}
