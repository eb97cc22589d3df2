using Iced.Intel;
using Lguest.DevLguest;
using Lguest.Hypervisor;
using Lguest.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Lguest.Tests.DevLguest;

/// <summary>
/// MMIO after #PF (trap 14) in the device window: every mov form the emulator claims, the register it reads
/// or writes, and the forms it gives back to the guest.
/// </summary>
public class LguestMmioTests
{
    private const uint Eax = 0x1234_5678, Ecx = 0x8765_4321, Edx = 0xaabb_ccdd, Esi = 0x0bad_f00d;
    private static readonly uint Address = LguestTestBed.WindowStart + 0x14;

    private static (uint, uint)[] Registers =>
        [(UserRegs.Eax, Eax), (UserRegs.Ecx, Ecx), (UserRegs.Edx, Edx), (UserRegs.Ebx, LguestTestBed.WindowStart), (UserRegs.Esi, Esi)];

    public static IEnumerable<TestCaseData> StoreForms()
    {
        yield return Store("mov [edx], al (88)", Asm(a => a.mov(__byte_ptr[edx], al)), 2, [0x78]);
        yield return Store("mov [edx], ah (88, high byte)", Asm(a => a.mov(__byte_ptr[edx], ah)), 2, [0x56]);
        yield return Store("mov [edx], cl (88)", Asm(a => a.mov(__byte_ptr[edx], cl)), 2, [0x21]);
        yield return Store("mov [edx], ax (66 89)", Asm(a => a.mov(__word_ptr[edx], ax)), 3, [0x78, 0x56]);
        yield return Store("mov [edx], eax (89)", Asm(a => a.mov(__dword_ptr[edx], eax)), 2, [0x78, 0x56, 0x34, 0x12]);
        yield return Store("mov [ebx+0x14], ecx (89 disp8)", Asm(a => a.mov(__dword_ptr[ebx + 0x14], ecx)), 3, [0x21, 0x43, 0x65, 0x87]);
        yield return Store("mov [edx+0x1000], esi (89 disp32)", Asm(a => a.mov(__dword_ptr[edx + 0x1000], esi)), 6, [0x0d, 0xf0, 0xad, 0x0b]);
        yield return Store("mov [edx], 0x5a (c6)", Asm(a => a.mov(__byte_ptr[edx], 0x5a)), 3, [0x5a]);
        yield return Store("mov [edx], 0x1234 (66 c7)", Asm(a => a.mov(__word_ptr[edx], 0x1234)), 5, [0x34, 0x12]);
        yield return Store("mov [edx], 0xcafef00d (c7)", Asm(a => a.mov(__dword_ptr[edx], unchecked((int)0xcafe_f00d))), 6, [0x0d, 0xf0, 0xfe, 0xca]);
        // a2 moffs32: mov [0x01000014], al, the absolute form a compiler picks for a constant address.
        yield return Store("mov [moffs], al (a2)", [0xa2, 0x14, 0x00, 0x00, 0x01], 5, [0x78]);
        // a3 moffs32: mov [0x01000014], eax.
        yield return Store("mov [moffs], eax (a3)", [0xa3, 0x14, 0x00, 0x00, 0x01], 5, [0x78, 0x56, 0x34, 0x12]);
    }

    public static IEnumerable<TestCaseData> LoadForms()
    {
        // The device reads as 0xa1b2c3d4 at every width.
        yield return Load("mov al, [edx] (8a)", Asm(a => a.mov(al, __byte_ptr[edx])), 2, 1, UserRegs.Eax, 0x1234_56d4);
        yield return Load("mov ch, [edx] (8a, high byte)", Asm(a => a.mov(ch, __byte_ptr[edx])), 2, 1, UserRegs.Ecx, 0x8765_d421);
        yield return Load("mov ax, [edx] (66 8b)", Asm(a => a.mov(ax, __word_ptr[edx])), 3, 2, UserRegs.Eax, 0x1234_c3d4);
        yield return Load("mov eax, [edx] (8b)", Asm(a => a.mov(eax, __dword_ptr[edx])), 2, 4, UserRegs.Eax, 0xa1b2_c3d4);
        yield return Load("mov esi, [ebx+0x14] (8b disp8)", Asm(a => a.mov(esi, __dword_ptr[ebx + 0x14])), 3, 4, UserRegs.Esi, 0xa1b2_c3d4);
        yield return Load("movzx eax, byte [edx] (0f b6)", Asm(a => a.movzx(eax, __byte_ptr[edx])), 3, 1, UserRegs.Eax, 0x0000_00d4);
        yield return Load("movzx ecx, word [edx] (0f b7)", Asm(a => a.movzx(ecx, __word_ptr[edx])), 3, 2, UserRegs.Ecx, 0x0000_c3d4);
        yield return Load("movzx dx, byte [eax] (66 0f b6)", Asm(a => a.movzx(dx, __byte_ptr[eax])), 4, 1, UserRegs.Edx, 0xaabb_00d4);
        // a0 moffs32: mov al, [0x01000014].
        yield return Load("mov al, [moffs] (a0)", [0xa0, 0x14, 0x00, 0x00, 0x01], 5, 1, UserRegs.Eax, 0x1234_56d4);
        // a1 moffs32: mov eax, [0x01000014].
        yield return Load("mov eax, [moffs] (a1)", [0xa1, 0x14, 0x00, 0x00, 0x01], 5, 4, UserRegs.Eax, 0xa1b2_c3d4);
    }

    [TestCaseSource(nameof(StoreForms))]
    public void A_store_becomes_an_MmioWrite_exit_with_its_value_and_EIP_moves_past_it(byte[] instruction, int length, byte[] data)
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .Mmio(GuestCode.Pending(instruction), Address, Registers)
            .Die("end"));
        var device = new RecordingIoDevice();
        bed.MmioBus.Register(LguestTestBed.WindowStart, 0x1000, device);

        LguestTestBed.Exit exit = bed.Step();
        Assert.That(exit.Reason, Is.EqualTo(VcpuExitReason.MmioWrite));
        Assert.That(exit.Address, Is.EqualTo(Address));
        Assert.That(exit.Data, Is.EqualTo(data));
        Assert.That(device.Accesses.Single(), Is.EqualTo(("write", 0x14UL, data)));

        Assert.That(bed.Step().Reason, Is.EqualTo(VcpuExitReason.Failed));
        uint[] resumed = bed.Host.RunSnapshots[1];
        Assert.That(resumed[UserRegs.Eip / 4], Is.EqualTo(LguestTestBed.Entry + (uint)length));
        Assert.That(new[] { resumed[UserRegs.Eax / 4], resumed[UserRegs.Ecx / 4], resumed[UserRegs.Edx / 4], resumed[UserRegs.Esi / 4] },
            Is.EqualTo(new[] { Eax, Ecx, Edx, Esi }), "a store changes no register");
        Assert.That(bed.Host.Traps, Is.Empty);
    }

    [TestCaseSource(nameof(LoadForms))]
    public void A_load_becomes_an_MmioRead_exit_whose_data_lands_in_its_register_and_EIP_moves_past_it(
        byte[] instruction, int length, int width, uint register, uint after)
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .Mmio(GuestCode.Pending(instruction), Address, Registers)
            .Die("end"));
        bed.MmioBus.Register(LguestTestBed.WindowStart, 0x1000, new LguestPortIoTests.ValueDevice(0xa1b2_c3d4));

        LguestTestBed.Exit exit = bed.Step();
        Assert.That(exit.Reason, Is.EqualTo(VcpuExitReason.MmioRead));
        Assert.That(exit.Address, Is.EqualTo(Address));
        Assert.That(exit.Data, Has.Length.EqualTo(width));

        Assert.That(bed.Step().Reason, Is.EqualTo(VcpuExitReason.Failed));
        uint[] resumed = bed.Host.RunSnapshots[1];
        Assert.That(resumed[register / 4], Is.EqualTo(after));
        Assert.That(resumed[UserRegs.Eip / 4], Is.EqualTo(LguestTestBed.Entry + (uint)length));
        Assert.That(bed.Host.Traps, Is.Empty);
    }

    public static IEnumerable<TestCaseData> UnclaimedForms()
    {
        yield return new TestCaseData(Asm(a => a.add(__dword_ptr[eax], ecx))).SetArgDisplayNames("add [eax], ecx");
        yield return new TestCaseData(Asm(a => a.xchg(__dword_ptr[edx], eax))).SetArgDisplayNames("xchg [edx], eax");
        yield return new TestCaseData(Asm(a => a.@lock.or(__dword_ptr[edx], 1))).SetArgDisplayNames("lock or [edx], 1");
        yield return new TestCaseData(Asm(a => a.movsx(eax, __byte_ptr[edx]))).SetArgDisplayNames("movsx eax, byte [edx]");
        yield return new TestCaseData(Asm(a => a.movsd())).SetArgDisplayNames("movsd");
        yield return new TestCaseData(Asm(a => a.mov(__word_ptr[edx], ds))).SetArgDisplayNames("mov [edx], ds");
        // c7 83 disp32 imm32: ten bytes, three more than the Host copies; the decoder runs out.
        yield return new TestCaseData(Asm(a => a.mov(__dword_ptr[ebx + 0x1000], 0x1234_5678))).SetArgDisplayNames("mov [ebx+disp32], imm32 (10 bytes)");
    }

    [TestCaseSource(nameof(UnclaimedForms))]
    public void An_instruction_the_emulator_does_not_claim_goes_back_to_the_guest_as_trap_14(byte[] instruction)
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .Mmio(GuestCode.Pending(instruction), Address, Registers)
            .Die("end"));
        var device = new RecordingIoDevice();
        bed.MmioBus.Register(LguestTestBed.WindowStart, 0x1000, device);

        List<LguestTestBed.Exit> exits = bed.RunToEnd();
        Assert.That(exits.Select(e => e.Reason), Is.EqualTo(new[] { VcpuExitReason.Failed }));
        Assert.That(bed.Host.Traps, Is.EqualTo(new[] { 14u }));
        Assert.That(device.Accesses, Is.Empty);
        Assert.That(bed.Host[UserRegs.Eip], Is.EqualTo(LguestTestBed.Entry));
    }

    [Test]
    public void A_fault_reported_below_the_device_window_goes_back_to_the_guest()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .Mmio(GuestCode.Insn(a => a.mov(__dword_ptr[edx], eax)), LguestTestBed.WindowStart - 4, Registers)
            .Die("end"));
        bed.RunToEnd();
        Assert.That(bed.Host.Traps, Is.EqualTo(new[] { 14u }));
    }

    [Test]
    public void An_access_running_past_the_end_of_the_device_window_goes_back_to_the_guest()
    {
        uint last = LguestTestBed.WindowStart + 256 * 4096 - 2;
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .Mmio(GuestCode.Insn(a => a.mov(__dword_ptr[edx], eax)), last, Registers)
            .Die("end"));
        bed.RunToEnd();
        Assert.That(bed.Host.Traps, Is.EqualTo(new[] { 14u }));
    }

    [Test]
    public void A_load_from_an_address_no_device_claims_reads_all_ones()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .Mmio(GuestCode.Insn(a => a.mov(eax, __dword_ptr[edx])), Address, Registers)
            .Die("end"));
        bed.RunToEnd();
        Assert.That(bed.Host.RunSnapshots[1][UserRegs.Eax / 4], Is.EqualTo(0xffff_ffff));
    }

    private static byte[] Asm(Action<Assembler> emit) => GuestCode.Assemble(emit);

    private static TestCaseData Store(string name, byte[] instruction, int length, byte[] data)
    {
        if (instruction.Length != length)
            throw new InvalidOperationException($"{name} assembles to {instruction.Length} bytes, not {length}");
        return new TestCaseData(instruction, length, data).SetArgDisplayNames(name);
    }

    private static TestCaseData Load(string name, byte[] instruction, int length, int width, uint register, uint after)
    {
        if (instruction.Length != length)
            throw new InvalidOperationException($"{name} assembles to {instruction.Length} bytes, not {length}");
        return new TestCaseData(instruction, length, width, register, after).SetArgDisplayNames(name);
    }
}
