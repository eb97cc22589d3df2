using Lguest.Boot;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.Boot;

/// <summary>Every ELF file the loader refuses, each with its own message and nothing written.</summary>
internal sealed class ElfRefusalTests : LoaderFixture
{
    // Small RAM: each refusal checks afterwards that every byte is still zero.
    protected override GuestMemoryLayout Layout => GuestMemoryLayout.WithMmioHole(24 * MiB);

    private static ElfImageBuilder Kernel(bool is64 = true) => new ElfImageBuilder { Is64 = is64 }.Load(0x1000000, new byte[4096]);

    private void AssertRefused(ElfImageBuilder elf, string fragment, BootPlatform platform = BootPlatform.Pc) =>
        LoaderRefusal.AssertRefused(Memory, new KernelLoadOptions { KernelPath = Files.Write("vmlinux", elf.Build()), Platform = platform }, fragment);

    [Test]
    public void Load_refuses_an_elf_cut_inside_its_identification() =>
        AssertRefused(new ElfImageBuilder { TruncateTo = 10 }.Load(0x1000000, [1]), "is truncated: 10 bytes, shorter than an ELF identification");

    [Test]
    public void Load_refuses_an_elf_cut_inside_its_header() =>
        AssertRefused(new ElfImageBuilder { TruncateTo = 40 }.Load(0x1000000, [1]), "is truncated: 40 bytes, shorter than the 64-byte ELF header");

    [Test]
    public void Load_refuses_an_unknown_elf_class() =>
        AssertRefused(new ElfImageBuilder { Class = 3 }.Load(0x1000000, [1]), "has ELF class 3, neither ELF32 (1) nor ELF64 (2)");

    [Test]
    public void Load_refuses_a_big_endian_elf() =>
        AssertRefused(new ElfImageBuilder { DataEncoding = 2 }.Load(0x1000000, [1]), "is a big-endian ELF file");

    [Test]
    public void Load_refuses_an_elf_that_is_not_an_executable() =>
        AssertRefused(new ElfImageBuilder { Type = 3 }.Load(0x1000000, [1]), "is an ELF file of type 3 (ET_DYN");

    [Test]
    public void Load_refuses_an_elf_for_another_machine() =>
        AssertRefused(new ElfImageBuilder { Machine = 183 }.Load(0x1000000, [1]), "is an ELF64 file for machine 183 (AArch64), not x86-64 (EM_X86_64)");

    [Test]
    public void Load_refuses_an_elf32_for_x86_64() =>
        AssertRefused(new ElfImageBuilder { Is64 = false, Machine = 62 }.Load(0x1000000, [1]), "is an ELF32 file for machine 62 (x86-64 (EM_X86_64)), not x86 (EM_386)");

    [Test]
    public void Load_on_lguest_refuses_a_64_bit_elf()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(32 * MiB));
        LoaderRefusal.AssertRefused(memory, new KernelLoadOptions { KernelPath = Files.Write("vmlinux", Kernel().Build()), Platform = BootPlatform.Lguest },
            "lguest boots only 32-bit x86 (ELF32, EM_386) kernels");
    }

    [Test]
    public void Load_refuses_a_wrong_program_header_size() =>
        AssertRefused(new ElfImageBuilder { PhEntSize = 64 }.Load(0x1000000, [1]), "has e_phentsize 64, not the 56-byte ELF64 program header");

    [Test]
    public void Load_refuses_an_elf_without_program_headers() =>
        AssertRefused(new ElfImageBuilder { PhNum = 0 }.Load(0x1000000, [1]), "has no program headers");

    [Test]
    public void Load_refuses_too_many_program_headers() =>
        AssertRefused(new ElfImageBuilder { PhNum = 0xffff }.Load(0x1000000, [1]), "has 65535 program headers, more than the 2048 accepted");

    [Test]
    public void Load_refuses_program_headers_past_the_end_of_the_file() =>
        AssertRefused(new ElfImageBuilder { PhOff = 0x10000 }.Load(0x1000000, [1]), "has program headers at 0x10000 (1 x 56 bytes) pointing past the end");

    [Test]
    public void Load_refuses_program_headers_at_an_offset_that_wraps() =>
        AssertRefused(new ElfImageBuilder { PhOff = ulong.MaxValue - 8 }.Load(0x1000000, [1]), "pointing past the end");

    [Test]
    public void Load_refuses_segment_bytes_past_the_end_of_the_file()
    {
        var elf = Kernel();
        elf.SegmentOverrides[0] = (0x100000, null);
        AssertRefused(elf, "has segment 0 with file bytes [0x100000, +0x1000) pointing past the end");
    }

    [Test]
    public void Load_refuses_a_segment_file_size_that_wraps()
    {
        var elf = Kernel();
        elf.SegmentOverrides[0] = (0x80, ulong.MaxValue);
        AssertRefused(elf, "has segment 0 with file bytes [0x80, +0xffffffffffffffff) pointing past the end");
    }

    [Test]
    public void Load_refuses_p_filesz_larger_than_p_memsz() =>
        AssertRefused(new ElfImageBuilder().Load(0x1000000, new byte[4096], memSize: 100), "has segment 0 with p_filesz 0x1000 larger than p_memsz 0x64");

    [Test]
    public void Load_refuses_a_segment_outside_guest_RAM() =>
        AssertRefused(new ElfImageBuilder { Entry = 0x17FF000 }.Load(0x17FF000, new byte[4096], memSize: 0x2000), "has segment 0 at [0x17ff000, 0x1801000) outside guest RAM below 4 GiB (RAM [0x0, 0x1800000))");

    [Test]
    public void Load_refuses_a_segment_in_the_mmio_hole()
    {
        // RAM below the hole and above 4 GiB, small enough to check byte by byte afterwards.
        using var big = GuestMemory.Allocate(new GuestMemoryLayout(
            [new GuestMemoryRegion(GuestAddress.Zero, 24 * MiB), new GuestMemoryRegion(new GuestAddress(4UL << 30), 8 * MiB)],
            new GuestMemoryRegion(new GuestAddress(0xC0000000), 0xFEC00000 - 0xC0000000)));
        var elf = new ElfImageBuilder { Entry = 0xC0000000 }.Load(0xC0000000, new byte[16]);
        LoaderRefusal.AssertRefused(big, new KernelLoadOptions { KernelPath = Files.Write("hole", elf.Build()) }, "has segment 0 at [0xc0000000, 0xc0000010) outside guest RAM");
    }

    [Test]
    public void Load_refuses_a_segment_whose_address_wraps() =>
        AssertRefused(new ElfImageBuilder().Load(ulong.MaxValue - 0xfff, new byte[16], memSize: 0x2000), "which wraps past 2^64");

    [Test]
    public void Load_refuses_a_segment_in_the_boot_area_below_1_MiB() =>
        AssertRefused(new ElfImageBuilder { Entry = 0x7000 }.Load(0x7000, new byte[16]), "has segment 0 at [0x7000, 0x7010) overlapping the boot area below 1 MiB");

    [Test]
    public void Load_refuses_overlapping_segments() =>
        AssertRefused(new ElfImageBuilder().Load(0x1000000, new byte[0x2000]).Load(0x1001000, new byte[0x100]),
            "has overlapping segments 0 [0x1000000, 0x1002000) and 1 [0x1001000, 0x1001100)");

    [Test]
    public void Load_refuses_an_elf_without_loadable_segments() =>
        AssertRefused(new ElfImageBuilder().Raw(6, 0, new byte[56], 56), "has no loadable (PT_LOAD) segments");

    [Test]
    public void Load_refuses_an_entry_point_in_no_segment() =>
        AssertRefused(new ElfImageBuilder { Entry = 0x2000000 }.Load(0x1000000, new byte[4096]), "has its entry point 0x2000000 in no loadable segment");

    [Test]
    public void Load_refuses_a_pvh_entry_in_no_segment() =>
        AssertRefused(Kernel().PvhNote(0x3000000), "has its PVH entry (XEN_ELFNOTE_PHYS32_ENTRY) at 0x3000000, in no loadable segment");

    [Test]
    public void Load_refuses_a_pvh_entry_above_4_GiB() =>
        AssertRefused(Kernel().PvhNote(0x1_0000_0000), "above 4 GiB");

    [Test]
    public void Load_refuses_a_pvh_note_with_a_bad_descriptor_size() =>
        AssertRefused(Kernel().PvhNote(0x1000000, size: 2), "with a 2-byte descriptor, not 4 or 8");
}
