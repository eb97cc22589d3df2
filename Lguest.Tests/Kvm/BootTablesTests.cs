using Lguest.Hypervisor;
using Lguest.Kvm;
using Lguest.Memory;

namespace Lguest.Tests.Kvm;

public class BootTablesTests
{
    [Test]
    public void The_64_bit_GDT_puts_a_long_mode_code_segment_at_BOOT_CS_and_flat_data_at_BOOT_DS()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        ushort limit = BootGdt.Write(memory, BootCpuMode.Linux64);
        Assert.That(limit, Is.EqualTo(5 * 8 - 1));
        Assert.That(memory.Read<ulong>(new GuestAddress(0x500 + 0x10)), Is.EqualTo(0x00AF9B000000FFFFUL));
        Assert.That(memory.Read<ulong>(new GuestAddress(0x500 + 0x18)), Is.EqualTo(0x00CF93000000FFFFUL));
    }

    [Test]
    public void The_32_bit_GDT_puts_a_32_bit_code_segment_at_BOOT_CS()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        BootGdt.Write(memory, BootCpuMode.Pvh);
        Assert.That(memory.Read<ulong>(new GuestAddress(0x500 + 0x10)), Is.EqualTo(0x00CF9B000000FFFFUL));
    }

    [Test]
    public void A_granular_descriptor_unpacks_to_a_4_GiB_byte_limit()
    {
        KvmSegment code = BootGdt.ToSegment(BootGdt.Code64, BootGdt.CodeSelector);
        Assert.That((code.Base, code.Limit, code.Type, code.Present, code.S, code.L, code.Db, code.G, code.Dpl, code.Selector),
            Is.EqualTo((0UL, 0xFFFF_FFFFu, (byte)0xB, (byte)1, (byte)1, (byte)1, (byte)0, (byte)1, (byte)0, (ushort)0x10)));
    }

    [Test]
    public void The_TSS_descriptor_unpacks_to_a_busy_32_bit_TSS_of_0x68_bytes()
    {
        KvmSegment tss = BootGdt.ToSegment(BootGdt.Tss32, BootGdt.TssSelector);
        Assert.That((tss.Limit, tss.Type, tss.S, tss.G, tss.Present), Is.EqualTo((0x67u, (byte)0xB, (byte)0, (byte)0, (byte)1)));
    }

    [Test]
    public void A_descriptor_base_is_gathered_from_its_three_fields()
    {
        // base 0x12345678 split over bits 16-39 and 56-63.
        ulong descriptor = 0x1200_9300_0000_0000UL | (0x34_5678UL << 16);
        Assert.That(BootGdt.ToSegment(descriptor, 0).Base, Is.EqualTo(0x1234_5678UL));
    }

    [Test]
    public void The_page_tables_identity_map_the_first_4_GiB_with_2_MiB_pages()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        ulong cr3 = IdentityPageTables.Write(memory);
        Assert.That(cr3, Is.EqualTo(0x9000UL));
        // Walk the tables for a few addresses, as the MMU would.
        foreach (ulong address in new ulong[] { 0, 0x1F_FFFF, 0x20_0000, 0x1_0000_0000 - 1, 0xFEC0_0000 })
        {
            ulong pml4e = memory.Read<ulong>(new GuestAddress(cr3 + ((address >> 39) & 0x1FF) * 8));
            Assert.That(pml4e & 3, Is.EqualTo(3UL), "PML4E present and writable");
            ulong pdpte = memory.Read<ulong>(new GuestAddress((pml4e & ~0xFFFUL) + ((address >> 30) & 0x1FF) * 8));
            Assert.That(pdpte & 3, Is.EqualTo(3UL), "PDPTE present and writable");
            ulong pde = memory.Read<ulong>(new GuestAddress((pdpte & ~0xFFFUL) + ((address >> 21) & 0x1FF) * 8));
            Assert.That(pde & 0x83, Is.EqualTo(0x83UL), "PDE maps a 2 MiB page");
            ulong physical = (pde & ~0x1F_FFFFUL & 0x000F_FFFF_FFFF_F000UL) | (address & 0x1F_FFFF);
            Assert.That(physical, Is.EqualTo(address));
        }
    }

    [Test]
    public void The_page_tables_stay_below_the_first_free_page_at_0xF000()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        memory.Write(new GuestAddress(0xF000), 0xDEADBEEFUL);
        memory.Write(new GuestAddress(0x8FF8), 0xCAFEUL);
        IdentityPageTables.Write(memory);
        Assert.That(memory.Read<ulong>(new GuestAddress(0xF000)), Is.EqualTo(0xDEADBEEFUL));
        Assert.That(memory.Read<ulong>(new GuestAddress(0x8FF8)), Is.EqualTo(0xCAFEUL));
    }
}
