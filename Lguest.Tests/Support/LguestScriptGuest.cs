using Iced.Intel;
using Lguest.DevLguest;
using static Iced.Intel.AssemblerRegisters;

namespace Lguest.Tests.Support;

/// <summary>
/// A <see cref="GuestDriverScript"/> as the lguest Host simulator plays it: each port access a #GP (13) on an
/// <c>in</c>/<c>out</c> through DX, each MMIO access a #PF (14) on a <c>mov</c> through EDX, with the bytes Iced
/// assembles and the registers the instruction reads set as the guest would have them.
/// </summary>
internal static class LguestScriptGuest
{
    public static void Play(GuestDriverScript script, LguestHostSimulator host)
    {
        foreach (GuestDriverScript.Step step in script.Steps)
        {
            switch (step)
            {
                case GuestDriverScript.PortWrite w:
                    host.PortIo(GuestCode.Insn(a => Out(a, w.Width)), (UserRegs.Edx, w.Port), (UserRegs.Eax, w.Value));
                    break;
                case GuestDriverScript.PortRead r:
                    host.Load(13, GuestCode.Insn(a => In(a, r.Width)), 0, r.Width, (UserRegs.Edx, r.Port), (UserRegs.Eax, 0xdead_beef));
                    break;
                case GuestDriverScript.MmioWrite w:
                    host.Mmio(GuestCode.Insn(a => Store(a, w.Width)), w.Address, (UserRegs.Edx, w.Address), (UserRegs.Eax, w.Value));
                    break;
                case GuestDriverScript.MmioRead r:
                    host.Load(14, GuestCode.Insn(a => LoadTo(a, r.Width)), r.Address, r.Width, (UserRegs.Edx, r.Address), (UserRegs.Eax, 0));
                    break;
                case GuestDriverScript.MmioPoll p:
                    host.Poll(14, GuestCode.Insn(a => LoadTo(a, p.Width)), p.Address, p.Width, p.Mask, (UserRegs.Edx, p.Address), (UserRegs.Eax, 0));
                    break;
                case GuestDriverScript.MemoryWrite m:
                    host.WriteMemory(m.Address, m.Bytes);
                    break;
                default:
                    throw new ArgumentException($"unknown step {step}", nameof(script));
            }
        }
    }

    /// <summary><c>out dx, al/ax/eax</c>.</summary>
    internal static void Out(Assembler a, int width)
    {
        switch (width)
        {
            case 1: a.@out(dx, al); break;
            case 2: a.@out(dx, ax); break;
            default: a.@out(dx, eax); break;
        }
    }

    /// <summary><c>in al/ax/eax, dx</c>.</summary>
    internal static void In(Assembler a, int width)
    {
        switch (width)
        {
            case 1: a.@in(al, dx); break;
            case 2: a.@in(ax, dx); break;
            default: a.@in(eax, dx); break;
        }
    }

    /// <summary><c>mov [edx], al/ax/eax</c>.</summary>
    internal static void Store(Assembler a, int width)
    {
        switch (width)
        {
            case 1: a.mov(__byte_ptr[edx], al); break;
            case 2: a.mov(__word_ptr[edx], ax); break;
            default: a.mov(__dword_ptr[edx], eax); break;
        }
    }

    /// <summary><c>mov al/ax/eax, [edx]</c>.</summary>
    internal static void LoadTo(Assembler a, int width)
    {
        switch (width)
        {
            case 1: a.mov(al, __byte_ptr[edx]); break;
            case 2: a.mov(ax, __word_ptr[edx]); break;
            default: a.mov(eax, __dword_ptr[edx]); break;
        }
    }
}
