using System.Buffers.Binary;
using Iced.Intel;
using Lguest.DevLguest;
using Lguest.Hypervisor;
using Lguest.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Lguest.Tests.DevLguest;

/// <summary>Port I/O after #GP (trap 13), each form the seed's emulate_insn handles, and the ones it re-injects.</summary>
public class LguestPortIoTests
{
    private const uint Eax = 0x1234_5678;
    private const uint Edx = 0xabcd_0000 | 0x3f8;

    public static IEnumerable<TestCaseData> OutForms()
    {
        yield return Out("out imm8, al", a => a.@out(0x80, al), 2, 0x80, [0x78]);
        yield return Out("out imm8, ax", a => a.@out(0x80, ax), 3, 0x80, [0x78, 0x56]);
        yield return Out("out imm8, eax", a => a.@out(0x80, eax), 2, 0x80, [0x78, 0x56, 0x34, 0x12]);
        yield return Out("out dx, al", a => a.@out(dx, al), 1, 0x3f8, [0x78]);
        yield return Out("out dx, ax", a => a.@out(dx, ax), 2, 0x3f8, [0x78, 0x56]);
        yield return Out("out dx, eax", a => a.@out(dx, eax), 1, 0x3f8, [0x78, 0x56, 0x34, 0x12]);
    }

    public static IEnumerable<TestCaseData> InForms()
    {
        // The port answers 0xa1b2c3d4; EAX held 0x12345678 before.
        yield return In("in al, imm8", a => a.@in(al, 0x80), 2, 0x80, 1, 0x1234_56d4);
        yield return In("in ax, imm8", a => a.@in(ax, 0x80), 3, 0x80, 2, 0x1234_c3d4);
        yield return In("in eax, imm8", a => a.@in(eax, 0x80), 2, 0x80, 4, 0xa1b2_c3d4);
        yield return In("in al, dx", a => a.@in(al, dx), 1, 0x3f8, 1, 0x1234_56d4);
        yield return In("in ax, dx", a => a.@in(ax, dx), 2, 0x3f8, 2, 0x1234_c3d4);
        yield return In("in eax, dx", a => a.@in(eax, dx), 1, 0x3f8, 4, 0xa1b2_c3d4);
    }

    [TestCaseSource(nameof(OutForms))]
    public void An_out_becomes_an_IoOut_exit_with_the_accumulator_and_EIP_moves_past_it(Action<Assembler> emit, int length, int port, byte[] data)
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .PortIo(GuestCode.Insn(emit), (UserRegs.Eax, Eax), (UserRegs.Edx, Edx))
            .Die("end"));
        var device = new RecordingIoDevice();
        bed.PortBus.Register((ulong)port, 4, device);

        LguestTestBed.Exit exit = bed.Step();
        Assert.That(exit.Reason, Is.EqualTo(VcpuExitReason.IoOut));
        Assert.That(exit.Address, Is.EqualTo(port));
        Assert.That(exit.Data, Is.EqualTo(data));
        Assert.That(device.Accesses.Single(), Is.EqualTo(("write", 0UL, data)));

        Assert.That(bed.Step().Reason, Is.EqualTo(VcpuExitReason.Failed));
        Assert.That(bed.Host.RunSnapshots[1][UserRegs.Eip / 4], Is.EqualTo(LguestTestBed.Entry + (uint)length));
        Assert.That(bed.Host[UserRegs.Eax], Is.EqualTo(Eax), "an out leaves EAX alone");
        Assert.That(bed.Host.Traps, Is.Empty);
    }

    [TestCaseSource(nameof(InForms))]
    public void An_in_becomes_an_IoIn_exit_whose_data_lands_in_the_accumulator_and_EIP_moves_past_it(Action<Assembler> emit, int length, int port, int width, uint eaxAfter)
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .PortIo(GuestCode.Insn(emit), (UserRegs.Eax, Eax), (UserRegs.Edx, Edx))
            .Die("end"));
        bed.PortBus.Register((ulong)port, 4, new ValueDevice(0xa1b2_c3d4));

        LguestTestBed.Exit exit = bed.Step();
        Assert.That(exit.Reason, Is.EqualTo(VcpuExitReason.IoIn));
        Assert.That(exit.Address, Is.EqualTo(port));
        Assert.That(exit.Data, Has.Length.EqualTo(width));

        Assert.That(bed.Step().Reason, Is.EqualTo(VcpuExitReason.Failed));
        uint[] resumed = bed.Host.RunSnapshots[1];
        Assert.That(resumed[UserRegs.Eax / 4], Is.EqualTo(eaxAfter));
        Assert.That(resumed[UserRegs.Eip / 4], Is.EqualTo(LguestTestBed.Entry + (uint)length));
        Assert.That(resumed[UserRegs.Edx / 4], Is.EqualTo(Edx));
    }

    [Test]
    public void An_in_from_a_port_nobody_claims_reads_all_ones()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .PortIo(GuestCode.Insn(a => a.@in(eax, dx)), (UserRegs.Edx, 0x1234))
            .Die("end"));
        bed.RunToEnd();
        Assert.That(bed.Host.RunSnapshots[1][UserRegs.Eax / 4], Is.EqualTo(0xffff_ffff));
    }

    [Test]
    public void An_in_talks_to_the_host_in_the_seeds_order_of_requests()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .PortIo(GuestCode.Insn(a => a.@in(al, dx)), (UserRegs.Edx, 0x3f8))
            .Die("end"));
        bed.RunToEnd();
        // After INITIALIZE: CS (privilege), EDX (port), then on completion EAX read-modify-write, then EIP.
        string[] requests = bed.Host.Requests.Skip(1).Select(Describe).ToArray();
        Assert.That(requests, Is.EqualTo(new[] { "getreg 52", "getreg 8", "getreg 24", "setreg 24", "getreg 48", "setreg 48" }));
    }

    [Test]
    public void A_cli_from_the_guest_kernel_is_skipped_without_an_exit()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .PortIo(GuestCode.Insn(a => a.cli()))
            .Die("end"));
        List<LguestTestBed.Exit> exits = bed.RunToEnd();
        Assert.That(exits.Select(e => e.Reason), Is.EqualTo(new[] { VcpuExitReason.Failed }));
        Assert.That(bed.Host.RunSnapshots[1][UserRegs.Eip / 4], Is.EqualTo(LguestTestBed.Entry + 1));
        Assert.That(bed.Host.Traps, Is.Empty);
    }

    [Test]
    public void Port_io_from_guest_user_space_is_given_back_its_general_protection_fault()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .PortIo(GuestCode.Insn(a => a.@out(dx, al)), (UserRegs.Xcs, 0x73), (UserRegs.Edx, 0x3f8))
            .Die("end"));
        var device = new RecordingIoDevice();
        bed.PortBus.Register(0x3f8, 8, device);
        List<LguestTestBed.Exit> exits = bed.RunToEnd();
        Assert.That(exits.Select(e => e.Reason), Is.EqualTo(new[] { VcpuExitReason.Failed }));
        Assert.That(bed.Host.Traps, Is.EqualTo(new[] { 13u }));
        Assert.That(device.Accesses, Is.Empty);
        Assert.That(bed.Host[UserRegs.Eip], Is.EqualTo(LguestTestBed.Entry), "a re-injected fault leaves EIP on the instruction");
    }

    public static IEnumerable<TestCaseData> StringForms()
    {
        yield return new TestCaseData(GuestCode.Insn(a => a.outsb())).SetArgDisplayNames("outsb");
        yield return new TestCaseData(GuestCode.Insn(a => a.outsd())).SetArgDisplayNames("outsd");
        yield return new TestCaseData(GuestCode.Insn(a => a.insb())).SetArgDisplayNames("insb");
        yield return new TestCaseData(GuestCode.Insn(a => a.rep.insw())).SetArgDisplayNames("rep insw");
    }

    [TestCaseSource(nameof(StringForms))]
    public void String_port_io_is_not_emulated_and_goes_back_to_the_guest_as_trap_13(byte[] instruction)
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .PortIo(instruction, (UserRegs.Edx, 0x3f8))
            .Die("end"));
        List<LguestTestBed.Exit> exits = bed.RunToEnd();
        Assert.That(exits.Select(e => e.Reason), Is.EqualTo(new[] { VcpuExitReason.Failed }));
        Assert.That(bed.Host.Traps, Is.EqualTo(new[] { 13u }));
    }

    [Test]
    public void A_general_protection_fault_on_anything_else_goes_back_to_the_guest()
    {
        using var bed = new LguestTestBed(new LguestHostSimulator()
            .PortIo(GuestCode.Insn(a => a.hlt()))   // f4: the guest halts through a hypercall, never hlt at ring 1
            .Die("end"));
        bed.RunToEnd();
        Assert.That(bed.Host.Traps, Is.EqualTo(new[] { 13u }));
    }

    private static TestCaseData Out(string name, Action<Assembler> emit, int length, int port, byte[] data) =>
        new TestCaseData(emit, length, port, data).SetArgDisplayNames(name);

    private static TestCaseData In(string name, Action<Assembler> emit, int length, int port, int width, uint eaxAfter) =>
        new TestCaseData(emit, length, port, width, eaxAfter).SetArgDisplayNames(name);

    internal static string Describe(byte[] request)
    {
        uint word(int i) => BinaryPrimitives.ReadUInt32LittleEndian(request.AsSpan(i * 4));
        return (LguestRequest)word(0) switch
        {
            LguestRequest.GetReg => $"getreg {word(1)}",
            LguestRequest.SetReg => $"setreg {word(1)}",
            LguestRequest.Trap => $"trap {word(1)}",
            LguestRequest.Irq => $"irq {word(1)}",
            LguestRequest r => r.ToString(),
        };
    }

    /// <summary>A register that reads as a fixed little-endian value at every width.</summary>
    internal sealed class ValueDevice(uint value) : IIoDevice
    {
        public List<(ulong Offset, byte[] Data)> Writes { get; } = [];

        public void Read(ulong offset, Span<byte> data)
        {
            Span<byte> word = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(word, value);
            word[..data.Length].CopyTo(data);
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data) => Writes.Add((offset, data.ToArray()));
    }
}
