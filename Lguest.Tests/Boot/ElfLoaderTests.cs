using Lguest.Boot;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.Boot;

/// <summary>Loading synthetic ELF vmlinux files: segments, entries, the PVH note and start info.</summary>
internal sealed class ElfLoaderTests : LoaderFixture
{
    protected override GuestMemoryLayout Layout => GuestMemoryLayout.WithMmioHole(64 * MiB);

    private static byte[] Pattern(int length, int seed) => Enumerable.Range(0, length).Select(i => (byte)(i * 13 + seed)).ToArray();

    private LoadedKernel Load(ElfImageBuilder elf, bool preferPvh = true, string? initrd = null, string commandLine = "", GuestAddress? rsdp = null,
        BootPlatform platform = BootPlatform.Pc, GuestMemory? memory = null) =>
        KernelLoader.Load(memory ?? Memory, new KernelLoadOptions
        {
            KernelPath = Files.Write("vmlinux", elf.Build()),
            PreferPvh = preferPvh,
            InitrdPath = initrd,
            CommandLine = commandLine,
            AcpiRsdpAddress = rsdp,
            Platform = platform,
        });

    [Test]
    public void Load_copies_elf64_segments_to_their_physical_addresses()
    {
        byte[] text = Pattern(10_000, 1), data = Pattern(3000, 2);
        var elf = new ElfImageBuilder().Load(0x1000000, text, vaddr: 0xffffffff81000000).Load(0x1400000, data, vaddr: 0xffffffff81400000);
        Load(elf);
        Assert.That(Memory.GetSpan(new GuestAddress(0x1000000), text.Length).ToArray(), Is.EqualTo(text));
        Assert.That(Memory.GetSpan(new GuestAddress(0x1400000), data.Length).ToArray(), Is.EqualTo(data));
    }

    [Test]
    public void Load_zeroes_the_part_of_p_memsz_beyond_p_filesz()
    {
        Memory.GetSpan(new GuestAddress(0x1000000), 0x3000).Fill(0xCC); // stale contents where the bss goes
        Load(new ElfImageBuilder().Load(0x1000000, Pattern(0x1000, 3), memSize: 0x3000));
        Assert.That(Memory.GetSpan(new GuestAddress(0x1000000), 0x1000).ToArray(), Is.EqualTo(Pattern(0x1000, 3)));
        Assert.That(Memory.GetSpan(new GuestAddress(0x1001000), 0x2000).ContainsAnyExcept((byte)0), Is.False);
    }

    [Test]
    public void Load_skips_segments_with_no_memory_size()
    {
        LoadedKernel k = Load(new ElfImageBuilder().Load(0x1000000, Pattern(64, 4)).Load(0x100, [], memSize: 0));
        Assert.That(k.Ranges.Where(r => r.Name.StartsWith("kernel", StringComparison.Ordinal)).Select(r => r.Start),
            Is.EqualTo(new[] { new GuestAddress(0x1000000) }));
    }

    [Test]
    public void Load_enters_an_elf64_without_a_pvh_note_at_e_entry_in_long_mode()
    {
        LoadedKernel k = Load(new ElfImageBuilder { Entry = 0x1000040 }.Load(0x1000000, Pattern(256, 5)));
        Assert.That(k.Protocol, Is.EqualTo(BootProtocolKind.ElfVmlinux));
        Assert.That(k.Boot, Is.EqualTo(new BootState(BootCpuMode.Linux64, new GuestAddress(0x1000040), new GuestAddress(PcLowMemory.ZeroPage))));
        Assert.That(k.Entry32, Is.Null);
    }

    [Test]
    public void Load_enters_an_elf32_at_e_entry_in_protected_mode()
    {
        LoadedKernel k = Load(new ElfImageBuilder { Is64 = false, Entry = 0x100000 }.Load(0x100000, Pattern(256, 6)));
        Assert.That(k.Boot, Is.EqualTo(new BootState(BootCpuMode.Linux32, new GuestAddress(0x100000), new GuestAddress(PcLowMemory.ZeroPage))));
        Assert.That(k.Entry64, Is.Null);
        Assert.That(Memory.GetSpan(new GuestAddress(0x100000), 256).ToArray(), Is.EqualTo(Pattern(256, 6)));
    }

    [Test]
    public void Load_translates_a_virtual_e_entry_through_its_segment()
    {
        var elf = new ElfImageBuilder { Entry = 0xffffffff81000100 }.Load(0x1000000, Pattern(512, 7), vaddr: 0xffffffff81000000);
        Assert.That(Load(elf).Boot.Entry, Is.EqualTo(new GuestAddress(0x1000100)));
    }

    [Test]
    public void Load_makes_up_a_setup_header_for_an_elf_kernel()
    {
        Load(new ElfImageBuilder().Load(0x1000000, Pattern(64, 8)), commandLine: "console=hvc0");
        BootParams bp = Memory.Read<BootParams>(new GuestAddress(PcLowMemory.ZeroPage));
        Assert.Multiple(() =>
        {
            Assert.That(bp.Hdr.BootFlag, Is.EqualTo(0xAA55));
            Assert.That(bp.Hdr.Header, Is.EqualTo(SetupHeader.HdrSMagic));
            Assert.That(bp.Hdr.TypeOfLoader, Is.EqualTo(0xFF));
            Assert.That(bp.Hdr.CmdLinePtr, Is.EqualTo(PcLowMemory.CommandLine));
            Assert.That(bp.Hdr.CmdlineSize, Is.EqualTo(2047));
            Assert.That(bp.E820Entries, Is.EqualTo(3));
        });
    }

    [Test]
    public void Load_boots_an_elf_with_a_pvh_note_by_pvh_on_kvm()
    {
        var elf = new ElfImageBuilder().Load(0x1000000, Pattern(4096, 9)).PvhNote(0x1000850);
        LoadedKernel k = Load(elf);
        Assert.That(k.Protocol, Is.EqualTo(BootProtocolKind.Pvh));
        Assert.That(k.Boot, Is.EqualTo(new BootState(BootCpuMode.Pvh, new GuestAddress(0x1000850), new GuestAddress(PcLowMemory.StartInfo))));
        Assert.That(k.PvhEntry, Is.EqualTo(new GuestAddress(0x1000850)));
        Assert.That(k.Entry64, Is.EqualTo(new GuestAddress(0x1000000)));
    }

    [Test]
    public void Load_reads_a_4_byte_pvh_note()
    {
        var elf = new ElfImageBuilder { Is64 = false, Entry = 0x100000 }.Load(0x100000, Pattern(4096, 10)).PvhNote(0x100123, size: 4);
        Assert.That(Load(elf).Boot.Entry, Is.EqualTo(new GuestAddress(0x100123)));
    }

    [Test]
    public void Load_finds_the_pvh_note_among_other_notes()
    {
        var elf = new ElfImageBuilder().Load(0x1000000, Pattern(4096, 11))
            .Note("GNU", 3, Pattern(20, 1))
            .Note("Xen", 6, "linux"u8.ToArray())
            .PvhNote(0x1000400);
        Assert.That(Load(elf).PvhEntry, Is.EqualTo(new GuestAddress(0x1000400)));
    }

    [Test]
    public void Load_reads_notes_padded_to_8_bytes_when_the_segment_says_so()
    {
        var desc = new byte[8];
        BitConverter.TryWriteBytes(desc, 0x1000200UL);
        var elf = new ElfImageBuilder().Load(0x1000000, Pattern(4096, 12)).Note("GNU", 1, [1, 2, 3], align: 8).Note("Xen", 18, desc, align: 8);
        Assert.That(Load(elf).PvhEntry, Is.EqualTo(new GuestAddress(0x1000200)));
    }

    [Test]
    public void Load_enters_at_e_entry_when_pvh_is_not_preferred()
    {
        var elf = new ElfImageBuilder().Load(0x1000000, Pattern(4096, 13)).PvhNote(0x1000850);
        LoadedKernel k = Load(elf, preferPvh: false);
        Assert.That(k.Protocol, Is.EqualTo(BootProtocolKind.ElfVmlinux));
        Assert.That(k.Boot.Mode, Is.EqualTo(BootCpuMode.Linux64));
        Assert.That(k.PvhEntry, Is.EqualTo(new GuestAddress(0x1000850)));
    }

    [Test]
    public void Load_writes_hvm_start_info_with_command_line_memory_map_and_rsdp()
    {
        var elf = new ElfImageBuilder().Load(0x1000000, Pattern(4096, 14)).PvhNote(0x1000000);
        Load(elf, commandLine: "console=ttyS0", rsdp: new GuestAddress(0xE0000));
        HvmStartInfo info = Memory.Read<HvmStartInfo>(new GuestAddress(PcLowMemory.StartInfo));
        Assert.Multiple(() =>
        {
            Assert.That(info.Magic, Is.EqualTo(0x336ec578));
            Assert.That(info.Version, Is.EqualTo(1));
            Assert.That(info.Flags, Is.Zero);
            Assert.That(info.CmdlinePaddr, Is.EqualTo(PcLowMemory.CommandLine));
            Assert.That(info.RsdpPaddr, Is.EqualTo(0xE0000));
            Assert.That(info.NrModules, Is.Zero);
            Assert.That(info.MemmapPaddr, Is.EqualTo(PcLowMemory.StartInfo + 56));
            Assert.That(info.MemmapEntries, Is.EqualTo(3));
        });
        HvmMemmapEntry[] memmap = Enumerable.Range(0, 3)
            .Select(i => Memory.Read<HvmMemmapEntry>(new GuestAddress(info.MemmapPaddr + (ulong)(i * 24)))).ToArray();
        Assert.That(memmap.Select(e => (e.Addr, e.Length, e.Type, e.Reserved)), Is.EqualTo(new[]
        {
            (0UL, 0x9fc00UL, E820Type.Ram, 0u),
            (0x9fc00UL, 0x60400UL, E820Type.Reserved, 0u),
            (0x100000UL, 63 * MiB, E820Type.Ram, 0u),
        }));
        Assert.That(Memory.GetSpan(new GuestAddress(PcLowMemory.CommandLine), 14).ToArray(), Is.EqualTo("console=ttyS0\0"u8.ToArray()));
        Assert.That(Memory.Read<ulong>(new GuestAddress(PcLowMemory.ZeroPage)), Is.Zero, "no zero page for PVH");
    }

    [Test]
    public void Load_lists_the_initrd_as_the_pvh_module()
    {
        string initrd = Files.Write("initrd", Pattern(10_000, 15));
        var elf = new ElfImageBuilder().Load(0x1000000, Pattern(4096, 16)).PvhNote(0x1000000);
        LoadedKernel k = Load(elf, initrd: initrd);
        HvmStartInfo info = Memory.Read<HvmStartInfo>(new GuestAddress(PcLowMemory.StartInfo));
        Assert.That(info.NrModules, Is.EqualTo(1));
        Assert.That(info.ModlistPaddr, Is.EqualTo(PcLowMemory.StartInfo + 56 + 3 * 24));
        HvmModlistEntry module = Memory.Read<HvmModlistEntry>(new GuestAddress(info.ModlistPaddr));
        Assert.That((module.Paddr, module.Length, module.CmdlinePaddr), Is.EqualTo((k.InitrdAddress!.Value.Value, 10_000UL, 0UL)));
        Assert.That(Memory.GetSpan(k.InitrdAddress.Value, 10_000).ToArray(), Is.EqualTo(Pattern(10_000, 15)));
    }

    [Test]
    public void Load_on_lguest_loads_an_elf32_by_p_paddr_and_ignores_the_pvh_note()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(32 * MiB));
        var elf = new ElfImageBuilder { Is64 = false, Entry = 0x100000 }.Load(0x100000, Pattern(8192, 17)).PvhNote(0x100100, size: 4);
        LoadedKernel k = Load(elf, platform: BootPlatform.Lguest, memory: memory);
        Assert.That(k.Boot, Is.EqualTo(new BootState(BootCpuMode.Linux32, new GuestAddress(0x100000), GuestAddress.Zero)));
        Assert.That(memory.GetSpan(new GuestAddress(0x100000), 8192).ToArray(), Is.EqualTo(Pattern(8192, 17)));
        BootParams bp = memory.Read<BootParams>(GuestAddress.Zero);
        Assert.That((bp.Hdr.Version, bp.Hdr.HardwareSubarch, bp.Hdr.KernelAlignment), Is.EqualTo(((ushort)0x207, 1u, 0x1000000u)));
    }
}
