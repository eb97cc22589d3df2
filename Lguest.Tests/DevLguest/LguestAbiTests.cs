using Lguest.DevLguest;

namespace Lguest.Tests.DevLguest;

/// <summary>
/// The bytes of the i386 ABI of include/linux/lguest_launcher.h (Linux 4.x), pinned: /dev/lguest only ever ran
/// on i386 kernels, where unsigned long is 4 bytes and the byte order is little-endian.
/// </summary>
public class LguestAbiTests
{
    [Test]
    public void The_requests_keep_their_positions_in_enum_lguest_req()
    {
        Assert.That((uint)LguestRequest.Initialize, Is.EqualTo(0));
        Assert.That((uint)LguestRequest.GetDma, Is.EqualTo(1));
        Assert.That((uint)LguestRequest.Irq, Is.EqualTo(2));
        Assert.That((uint)LguestRequest.Break, Is.EqualTo(3));
        Assert.That((uint)LguestRequest.EventFd, Is.EqualTo(4));
        Assert.That((uint)LguestRequest.GetReg, Is.EqualTo(5));
        Assert.That((uint)LguestRequest.SetReg, Is.EqualTo(6));
        Assert.That((uint)LguestRequest.Trap, Is.EqualTo(7));
    }

    [Test]
    public void Initialize_is_five_32_bit_little_endian_words()
    {
        byte[] request = new byte[LguestAbi.InitializeSize];
        LguestAbi.WriteInitialize(request, memoryBase: 0x4000_1000, pfnLimit: 0x1000, start: 0x0010_0000, deviceLimit: 0x1100);
        Assert.That(request, Is.EqualTo(new byte[]
        {
            0, 0, 0, 0,             // LHREQ_INITIALIZE
            0x00, 0x10, 0x00, 0x40, // base
            0x00, 0x10, 0, 0,       // pfnlimit
            0x00, 0x00, 0x10, 0x00, // start
            0x00, 0x11, 0, 0,       // device_limit
        }));
    }

    [Test]
    public void Irq_is_the_request_and_the_interrupt_number()
    {
        byte[] request = new byte[LguestAbi.OneArgumentSize];
        LguestAbi.WriteIrq(request, 9);
        Assert.That(request, Is.EqualTo(new byte[] { 2, 0, 0, 0, 9, 0, 0, 0 }));
    }

    [Test]
    public void Getreg_is_the_request_and_the_register_offset()
    {
        byte[] request = new byte[LguestAbi.OneArgumentSize];
        LguestAbi.WriteGetReg(request, UserRegs.Eip);
        Assert.That(request, Is.EqualTo(new byte[] { 5, 0, 0, 0, 48, 0, 0, 0 }));
    }

    [Test]
    public void Setreg_is_the_request_the_register_offset_and_the_value()
    {
        byte[] request = new byte[LguestAbi.SetRegSize];
        LguestAbi.WriteSetReg(request, UserRegs.Eax, 0xdead_beef);
        Assert.That(request, Is.EqualTo(new byte[] { 6, 0, 0, 0, 24, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde }));
    }

    [Test]
    public void Trap_is_the_request_and_the_trap_number()
    {
        byte[] request = new byte[LguestAbi.OneArgumentSize];
        LguestAbi.WriteTrap(request, 14);
        Assert.That(request, Is.EqualTo(new byte[] { 7, 0, 0, 0, 14, 0, 0, 0 }));
    }

    [Test]
    public void A_value_beyond_32_bits_is_refused_not_truncated()
    {
        Assert.That(() => LguestAbi.ToWord(0x7f00_0000_1000, "the guest memory's host address"),
            Throws.TypeOf<Lguest.Hypervisor.HypervisorException>().With.Message.Contains("32-bit"));
        Assert.That(LguestAbi.ToWord(uint.MaxValue, "x"), Is.EqualTo(uint.MaxValue));
    }

    [Test]
    public void Lguest_pending_is_a_trap_byte_seven_instruction_bytes_and_a_32_bit_address()
    {
        Assert.That(LguestPending.Size, Is.EqualTo(12));
        Assert.That(LguestPending.InstructionOffset, Is.EqualTo(1));
        Assert.That(LguestPending.InstructionLength, Is.EqualTo(7));
        Assert.That(LguestPending.AddressOffset, Is.EqualTo(8));

        LguestPending pending = LguestPending.Parse(new byte[] { 14, 0x89, 0x02, 3, 4, 5, 6, 7, 0x14, 0x00, 0x00, 0x01 });
        Assert.That(pending.Trap, Is.EqualTo(14));
        Assert.That(pending.Instruction.ToArray(), Is.EqualTo(new byte[] { 0x89, 0x02, 3, 4, 5, 6, 7 }));
        Assert.That(pending.Address, Is.EqualTo(0x0100_0014));
    }

    [Test]
    public void User_regs_struct_offsets_are_those_of_i386()
    {
        // struct user_regs_struct for i386 in <sys/user.h>: 17 longs in this order.
        uint[] expected = [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64];
        uint[] actual =
        [
            UserRegs.Ebx, UserRegs.Ecx, UserRegs.Edx, UserRegs.Esi, UserRegs.Edi, UserRegs.Ebp, UserRegs.Eax,
            UserRegs.Xds, UserRegs.Xes, UserRegs.Xfs, UserRegs.Xgs, UserRegs.OrigEax, UserRegs.Eip, UserRegs.Xcs,
            UserRegs.Eflags, UserRegs.Esp, UserRegs.Xss,
        ];
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(UserRegs.Size, Is.EqualTo(68));
    }

    [Test]
    public void ModRM_register_numbers_map_to_their_user_regs_offsets()
    {
        Assert.That(Enumerable.Range(0, 8).Select(UserRegs.OfGeneralRegister),
            Is.EqualTo(new[] { UserRegs.Eax, UserRegs.Ecx, UserRegs.Edx, UserRegs.Ebx, UserRegs.Esp, UserRegs.Ebp, UserRegs.Esi, UserRegs.Edi }));
    }

    [Test]
    public void The_user_regs_offsets_follow_the_i386_branch_of_the_glibc_header()
    {
        // glibc's x86 <sys/user.h> carries the i386 struct in its #else branch: seventeen "long int" fields,
        // each 4 bytes on i386, so a field's offset is 4 times its position.
        const string header = "/usr/include/x86_64-linux-gnu/sys/user.h";
        if (!File.Exists(header))
            Assert.Ignore($"{header} is not installed (libc6-dev)");
        string text = File.ReadAllText(header);
        int i386 = text.IndexOf("#else", StringComparison.Ordinal);
        int start = text.IndexOf("struct user_regs_struct", i386, StringComparison.Ordinal);
        int end = text.IndexOf('}', start);
        string[] fields = text[start..end].Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.StartsWith("long int ", StringComparison.Ordinal))
            .Select(line => line["long int ".Length..].TrimEnd(';'))
            .ToArray();
        Assert.That(fields, Is.EqualTo(new[]
        {
            "ebx", "ecx", "edx", "esi", "edi", "ebp", "eax", "xds", "xes", "xfs", "xgs", "orig_eax", "eip", "xcs", "eflags", "esp", "xss",
        }));
        var ours = new Dictionary<string, uint>
        {
            ["ebx"] = UserRegs.Ebx, ["ecx"] = UserRegs.Ecx, ["edx"] = UserRegs.Edx, ["esi"] = UserRegs.Esi,
            ["edi"] = UserRegs.Edi, ["ebp"] = UserRegs.Ebp, ["eax"] = UserRegs.Eax, ["xds"] = UserRegs.Xds,
            ["xes"] = UserRegs.Xes, ["xfs"] = UserRegs.Xfs, ["xgs"] = UserRegs.Xgs, ["orig_eax"] = UserRegs.OrigEax,
            ["eip"] = UserRegs.Eip, ["xcs"] = UserRegs.Xcs, ["eflags"] = UserRegs.Eflags, ["esp"] = UserRegs.Esp,
            ["xss"] = UserRegs.Xss,
        };
        for (int i = 0; i < fields.Length; i++)
            Assert.That(ours[fields[i]], Is.EqualTo(4 * i), fields[i]);
        Assert.That(4 * fields.Length, Is.EqualTo(UserRegs.Size));
    }
}
