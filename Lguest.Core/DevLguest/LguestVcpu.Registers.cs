using Lguest.Hypervisor;

namespace Lguest.DevLguest;

/// <summary>The guest's registers through LHREQ_GETREG (then a read) and LHREQ_SETREG, as the seed's getreg/setreg.</summary>
internal sealed partial class LguestVcpu
{
    private uint GetRegister(uint offset)
    {
        Span<byte> request = _request.AsSpan(0, LguestAbi.OneArgumentSize);
        LguestAbi.WriteGetReg(request, offset);
        int rc = _device.Write(request, Index);
        if (rc < 0)
            throw HypervisorException.FromErrno($"LHREQ_GETREG {offset}", -rc);
        rc = _device.Read(_register, Index);
        if (rc != LguestAbi.RegisterSize)
        {
            throw rc < 0
                ? HypervisorException.FromErrno($"reading register {offset}", -rc)
                : new HypervisorException($"/dev/lguest: reading register {offset} returned {rc} bytes, not {LguestAbi.RegisterSize}");
        }
        return ReadLittleEndian(_register);
    }

    private void SetRegister(uint offset, uint value)
    {
        Span<byte> request = _request.AsSpan(0, LguestAbi.SetRegSize);
        LguestAbi.WriteSetReg(request, offset, value);
        int rc = _device.Write(request, Index);
        if (rc < 0)
            throw HypervisorException.FromErrno($"LHREQ_SETREG {offset}", -rc);
    }

    private void Reinject(byte trap)
    {
        Span<byte> request = _request.AsSpan(0, LguestAbi.OneArgumentSize);
        LguestAbi.WriteTrap(request, trap);
        int rc = _device.Write(request, Index);
        if (rc < 0)
            throw HypervisorException.FromErrno($"LHREQ_TRAP {trap}", -rc);
    }

    private void AdvanceInstructionPointer(int length) =>
        SetRegister(UserRegs.Eip, unchecked(GetRegister(UserRegs.Eip) + (uint)length));

    /// <summary>The store's source: a whole register, its low word or byte, or AH/CH/DH/BH.</summary>
    private uint ReadGeneralRegister(in GuestInstruction instruction)
    {
        uint value = GetRegister(UserRegs.OfGeneralRegister(instruction.Register));
        if (instruction.HighByte)
            return (value >> 8) & 0xff;
        return instruction.RegisterWidth switch
        {
            1 => value & 0xff,
            2 => value & 0xffff,
            _ => value,
        };
    }

    /// <summary>
    /// A load's destination, written as the CPU would in 32-bit mode: a 32-bit register whole (zero-extended
    /// for movzx), a 16- or 8-bit one merged into the bits it does not cover.
    /// </summary>
    private void WriteGeneralRegister(in GuestInstruction instruction, uint loaded)
    {
        uint offset = UserRegs.OfGeneralRegister(instruction.Register);
        if (instruction.RegisterWidth == 4)
        {
            SetRegister(offset, loaded);
            return;
        }
        uint old = GetRegister(offset);
        uint value = instruction.HighByte
            ? (old & 0xffff_00ffu) | ((loaded & 0xff) << 8)
            : instruction.RegisterWidth == 2
                ? (old & 0xffff_0000u) | (loaded & 0xffff)
                : (old & 0xffff_ff00u) | (loaded & 0xff);
        SetRegister(offset, value);
    }
}
