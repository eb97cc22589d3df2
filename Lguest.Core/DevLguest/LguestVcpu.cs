using System.Buffers.Binary;
using System.Text;
using Lguest.Hypervisor;
using Lguest.Interop;

namespace Lguest.DevLguest;

/// <summary>
/// The guest's only vCPU on /dev/lguest. A read of the device runs the guest until it faults on something
/// the Host leaves to the launcher; this class turns that <see cref="LguestPending"/> into a
/// <see cref="VcpuExit"/> (port I/O, MMIO) and, on the next <see cref="Run"/>, finishes the instruction the way
/// the CPU would have: the loaded value into its register and EIP past it, through LHREQ_GETREG/SETREG.
/// </summary>
/// <remarks>
/// What the launcher cannot emulate goes back to the guest as the fault it was (LHREQ_TRAP), as the seed
/// does. The end of the guest is a read error: ENOENT (it died; a second read returns the Host's message)
/// becomes <see cref="VcpuExitReason.Failed"/> with that message, ERESTART (it asked for a reboot) becomes
/// <see cref="VcpuExitReason.Reset"/>; both are final for this vCPU, which returns them again if run again.
/// </remarks>
internal sealed partial class LguestVcpu : IVcpu
{
    /// <summary>How often a kick is repeated while the read it is meant for has not returned (see <see cref="LguestKick"/>).</summary>
    private const int KickRepeatMilliseconds = 1;

    private readonly LguestVirtualMachine _vm;
    private readonly ILguestDevice _device;
    private readonly GuestInstructionDecoder _decoder = new();
    private readonly byte[] _pending = new byte[LguestPending.Size];
    private readonly byte[] _data = new byte[4];
    private readonly byte[] _request = new byte[LguestAbi.SetRegSize];
    private readonly byte[] _register = new byte[LguestAbi.RegisterSize];

    // The instruction the last exit presented, finished by the next Run.
    private GuestInstruction _inFlight;
    private bool _hasInFlight;

    // Set once the guest is gone: every later Run returns the same ending without touching the device.
    private VcpuExitReason? _ending;
    private string? _endingDetail;

    private readonly Lock _kickLock = new();
    private Timer? _kickTimer;
    private int _threadId;
    private int _inRead;
    private int _exitRequested;
    private bool _disposed;

    public LguestVcpu(LguestVirtualMachine vm, int index)
    {
        _vm = vm;
        _device = vm.Device;
        Index = index;
    }

    public int Index { get; }

    public VcpuExit Run()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_ending is { } ending)
            return new VcpuExit(ending, detail: _endingDetail);
        Volatile.Write(ref _threadId, Libc.GetTid());

        if (_hasInFlight)
        {
            _hasInFlight = false;
            Complete(_inFlight);
        }

        while (true)
        {
            // Announce the read before checking for a stop request; RequestExit does the opposite, so one of
            // the two always sees the other (both are full fences).
            Interlocked.Exchange(ref _inRead, 1);
            if (Volatile.Read(ref _exitRequested) != 0)
            {
                Interlocked.Exchange(ref _inRead, 0);
                return Interrupted();
            }
            int rc = _device.Read(_pending, Index);
            Interlocked.Exchange(ref _inRead, 0);

            if (rc == LguestPending.Size)
            {
                if (TryEmulate(LguestPending.Parse(_pending), out VcpuExit exit))
                    return exit;
                continue;
            }
            if (rc >= 0)
                throw new HypervisorException($"/dev/lguest: a run returned {rc} bytes, not the {LguestPending.Size} of struct lguest_pending");
            switch (-rc)
            {
                case Libc.EINTR:
                    return Interrupted();
                case Libc.ENOENT:
                    return End(VcpuExitReason.Failed, ReadDeathReason());
                case Libc.ERESTART:
                    return End(VcpuExitReason.Reset, "the guest asked to be rebooted (LHCALL_SHUTDOWN with LGUEST_SHUTDOWN_RESTART)");
                default:
                    throw HypervisorException.FromErrno($"running vCPU {Index} on /dev/lguest", -rc);
            }
        }
    }

    public void RequestExit()
    {
        Interlocked.Exchange(ref _exitRequested, 1);
        if (Volatile.Read(ref _inRead) == 0)
            return; // Run checks the flag before its next read.
        lock (_kickLock)
        {
            if (_disposed)
                return;
            // Kick now and keep kicking: a signal that lands just before the read starts is absorbed and lost.
            _kickTimer ??= new Timer(static state => ((LguestVcpu)state!).Kick(), this, 0, KickRepeatMilliseconds);
        }
    }

    public void Dispose()
    {
        lock (_kickLock)
        {
            if (_disposed)
                return;
            _disposed = true;
            _kickTimer?.Dispose();
            _kickTimer = null;
        }
    }

    private void Kick()
    {
        int thread = Volatile.Read(ref _threadId);
        if (Volatile.Read(ref _inRead) != 0 && Volatile.Read(ref _exitRequested) != 0 && thread != 0)
            _device.Interrupt(thread);
    }

    private VcpuExit Interrupted()
    {
        lock (_kickLock)
        {
            _kickTimer?.Dispose();
            _kickTimer = null;
        }
        Interlocked.Exchange(ref _exitRequested, 0);
        return new VcpuExit(VcpuExitReason.Interrupted);
    }

    private VcpuExit End(VcpuExitReason reason, string detail)
    {
        _ending = reason;
        _endingDetail = detail;
        return new VcpuExit(reason, detail: detail);
    }

    /// <summary>
    /// After ENOENT the next read returns the Host's message, NUL-terminated: the kill_guest() text, which
    /// may quote the guest (LHCALL_SHUTDOWN's "CRASH: ..."), so control characters are masked.
    /// </summary>
    private string ReadDeathReason()
    {
        Span<byte> buffer = stackalloc byte[LguestAbi.MaxDeathReason];
        int rc = _device.Read(buffer, Index);
        if (rc <= 0)
            return rc < 0 ? $"the guest died (its reason could not be read: errno {-rc})" : "the guest died";
        ReadOnlySpan<byte> text = buffer[..Math.Min(rc, buffer.Length)];
        int nul = text.IndexOf((byte)0);
        if (nul >= 0)
            text = text[..nul];
        var reason = new StringBuilder(Encoding.UTF8.GetString(text));
        for (int i = 0; i < reason.Length; i++)
        {
            if (char.IsControl(reason[i]))
                reason[i] = '?';
        }
        return reason.Length == 0 ? "the guest died" : reason.ToString();
    }

    private static uint ReadLittleEndian(ReadOnlySpan<byte> data) => data.Length switch
    {
        1 => data[0],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(data),
        _ => BinaryPrimitives.ReadUInt32LittleEndian(data),
    };

    private static void WriteLittleEndian(Span<byte> data, uint value)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(word, value);
        word[..data.Length].CopyTo(data);
    }
}
