using System.Buffers.Binary;
using Lguest.DevLguest;
using Lguest.Interop;

namespace Lguest.Fuzz.Fakes;

/// <summary>
/// The lguest Host behind /dev/lguest as the emulation target sees it: each run of the guest hands over the
/// next <c>struct lguest_pending</c> from the input, LHREQ_GETREG/SETREG work on a register file with the
/// Host's rules (general registers, EIP and ESP writable; segments and EFLAGS read-only; the rest ENOENT),
/// and when the input runs out the guest dies. It records what the launcher did to the registers.
/// </summary>
internal sealed class FuzzLguestHost(uint[] registers, byte[] script) : ILguestDevice
{
    private static readonly uint[] WritableRegisters =
        [UserRegs.Ebx, UserRegs.Ecx, UserRegs.Edx, UserRegs.Esi, UserRegs.Edi, UserRegs.Ebp, UserRegs.Eax, UserRegs.Eip, UserRegs.Esp];

    private int _position;
    private uint? _registerToRead;
    private bool _dead;
    private bool _reasonRead;

    public uint[] Registers { get; } = registers;

    public int Reinjected { get; private set; }

    /// <summary>The last trap handed to the launcher.</summary>
    public ReadOnlyMemory<byte> LastPending { get; private set; }

    public int Write(ReadOnlySpan<byte> request, long offset)
    {
        if (request.Length < 4)
            return -Libc.EINVAL;
        uint code = BinaryPrimitives.ReadUInt32LittleEndian(request);
        uint argument1 = request.Length >= 8 ? BinaryPrimitives.ReadUInt32LittleEndian(request[4..]) : 0;
        uint argument2 = request.Length >= 12 ? BinaryPrimitives.ReadUInt32LittleEndian(request[8..]) : 0;
        switch ((LguestRequest)code)
        {
            case LguestRequest.Initialize:
                return request.Length == LguestAbi.InitializeSize ? request.Length : -Libc.EINVAL;
            case LguestRequest.GetReg:
                if (request.Length != LguestAbi.OneArgumentSize)
                    return -Libc.EINVAL;
                if (argument1 % 4 != 0 || argument1 >= UserRegs.Size)
                    return -Libc.ENOENT;
                _registerToRead = argument1;
                return request.Length;
            case LguestRequest.SetReg:
                if (request.Length != LguestAbi.SetRegSize)
                    return -Libc.EINVAL;
                if (Array.IndexOf(WritableRegisters, argument1) < 0)
                    return -Libc.ENOENT;
                Registers[argument1 / 4] = argument2;
                return request.Length;
            case LguestRequest.Trap:
                Reinjected++;
                return request.Length;
            case LguestRequest.Irq:
                return argument1 < 224 ? request.Length : -Libc.EINVAL;
            default:
                return -Libc.EINVAL;
        }
    }

    public int Read(Span<byte> buffer, long offset)
    {
        if (_registerToRead is uint register)
        {
            _registerToRead = null;
            if (buffer.Length < 4)
                return -Libc.EINVAL;
            BinaryPrimitives.WriteUInt32LittleEndian(buffer, Registers[register / 4]);
            return 4;
        }
        if (_dead)
        {
            if (_reasonRead)
                return -Libc.ENOENT;
            _reasonRead = true;
            ReadOnlySpan<byte> reason = "lguest fuzz: input over\n\u0001"u8;
            int n = Math.Min(reason.Length, buffer.Length);
            reason[..n].CopyTo(buffer);
            return n;
        }
        if (_position + LguestPending.Size > script.Length || buffer.Length < LguestPending.Size)
        {
            _dead = true;
            return -Libc.ENOENT;
        }
        LastPending = script.AsMemory(_position, LguestPending.Size);
        script.AsSpan(_position, LguestPending.Size).CopyTo(buffer);
        _position += LguestPending.Size;
        return LguestPending.Size;
    }

    public void Interrupt(int threadId)
    {
    }

    public void Dispose()
    {
    }
}
