using Lguest.Hypervisor;

namespace Lguest.DevLguest;

/// <summary>Emulating the instructions the Host hands over: port I/O after #GP, MMIO after #PF.</summary>
internal sealed partial class LguestVcpu
{
    /// <summary>
    /// Turns a pending trap into an exit; false when it was handled without one (re-injected, or a skipped
    /// <c>cli</c>) and the guest should simply run on.
    /// </summary>
    private bool TryEmulate(LguestPending pending, out VcpuExit exit)
    {
        switch (pending.Trap)
        {
            case LguestPending.GeneralProtection:
                return TryEmulatePortIo(pending, out exit);
            case LguestPending.PageFault:
                return TryEmulateMmio(pending, out exit);
            default:
                // The Host sends only 13 and 14 to the launcher; anything else is a Host the seed did not know.
                exit = new VcpuExit(VcpuExitReason.Failed,
                    detail: $"/dev/lguest reported trap {pending.Trap} (address 0x{pending.Address:x}); only 13 and 14 are the launcher's");
                return true;
        }
    }

    private bool TryEmulatePortIo(LguestPending pending, out VcpuExit exit)
    {
        exit = default;
        GuestInstruction instruction = _decoder.DecodePortIo(pending.Instruction);
        // Only the guest kernel runs at ring 1 (CS RPL 1); guest user space doing port I/O gets its #GP.
        if (instruction.Kind == GuestInstructionKind.Unsupported || (GetRegister(UserRegs.Xcs) & 3) != 1)
        {
            Reinject(LguestPending.GeneralProtection);
            return false;
        }
        if (instruction.Kind == GuestInstructionKind.ClearInterrupts)
        {
            AdvanceInstructionPointer(instruction.Length);
            return false;
        }

        ushort port = instruction.Port >= 0 ? (ushort)instruction.Port : (ushort)GetRegister(UserRegs.Edx);
        Span<byte> data = _data.AsSpan(0, instruction.Width);
        if (instruction.Kind == GuestInstructionKind.PortOut)
        {
            WriteLittleEndian(data, GetRegister(UserRegs.Eax));
            exit = new VcpuExit(VcpuExitReason.IoOut, port, data);
        }
        else
        {
            // What an unclaimed port reads as, should the run loop leave the buffer alone.
            data.Fill(0xff);
            exit = new VcpuExit(VcpuExitReason.IoIn, port, data);
        }
        _inFlight = instruction;
        _hasInFlight = true;
        return true;
    }

    private bool TryEmulateMmio(LguestPending pending, out VcpuExit exit)
    {
        exit = default;
        uint address = pending.Address;
        GuestInstruction instruction = _decoder.DecodeMmio(pending.Instruction);
        // The Host reports only faults in [pfnlimit, device_limit); check anyway rather than trust a number
        // that came through the guest's page tables.
        if (instruction.Kind == GuestInstructionKind.Unsupported || !IsInDeviceWindow(address, instruction.Width))
        {
            Reinject(LguestPending.PageFault);
            return false;
        }

        Span<byte> data = _data.AsSpan(0, instruction.Width);
        if (instruction.Kind == GuestInstructionKind.MmioWrite)
        {
            uint value = instruction.Register < 0 ? instruction.Immediate : ReadGeneralRegister(instruction);
            WriteLittleEndian(data, value);
            exit = new VcpuExit(VcpuExitReason.MmioWrite, address, data);
        }
        else
        {
            data.Fill(0xff);
            exit = new VcpuExit(VcpuExitReason.MmioRead, address, data);
        }
        _inFlight = instruction;
        _hasInFlight = true;
        return true;
    }

    /// <summary>Finishes the instruction the last exit presented: a load's value into its register, then EIP past it.</summary>
    private void Complete(in GuestInstruction instruction)
    {
        if (instruction.Kind is GuestInstructionKind.PortIn or GuestInstructionKind.MmioRead)
            WriteGeneralRegister(instruction, ReadLittleEndian(_data.AsSpan(0, instruction.Width)));
        AdvanceInstructionPointer(instruction.Length);
    }

    private bool IsInDeviceWindow(uint address, int width)
    {
        ulong start = (ulong)_vm.PfnLimit * Memory.GuestMemoryLayout.PageSize;
        ulong end = (ulong)_vm.DeviceLimit * Memory.GuestMemoryLayout.PageSize;
        return address >= start && (ulong)address + (ulong)width <= end;
    }
}
