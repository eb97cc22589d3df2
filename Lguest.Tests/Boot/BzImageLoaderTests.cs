using Lguest.Boot;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.Boot;

/// <summary>Loading synthetic bzImages on the KVM platform: placement, entries and the zero page.</summary>
internal sealed class BzImageLoaderTests : LoaderFixture
{
    protected override GuestMemoryLayout Layout => GuestMemoryLayout.WithMmioHole(64 * MiB);

    private LoadedKernel Load(BzImageBuilder image, string commandLine = "", GuestAddress? rsdp = null) =>
        KernelLoader.Load(Memory, new KernelLoadOptions
        {
            KernelPath = Files.Write("bzImage", image.Build()),
            CommandLine = commandLine,
            AcpiRsdpAddress = rsdp,
        });

    private BootParams ZeroPage => Memory.Read<BootParams>(new GuestAddress(PcLowMemory.ZeroPage));

    [Test]
    public void Load_places_a_relocatable_bzImage_at_its_pref_address()
    {
        LoadedKernel k = Load(new BzImageBuilder());
        Assert.That(k.KernelAddress, Is.EqualTo(new GuestAddress(0x1000000)));
        Assert.That(k.Protocol, Is.EqualTo(BootProtocolKind.BzImage));
    }

    [Test]
    public void Load_enters_a_64_bit_bzImage_at_the_load_address_plus_0x200_with_the_zero_page()
    {
        LoadedKernel k = Load(new BzImageBuilder());
        Assert.That(k.Boot, Is.EqualTo(new BootState(BootCpuMode.Linux64, new GuestAddress(0x1000200), new GuestAddress(PcLowMemory.ZeroPage))));
        Assert.That(k.Entry64, Is.EqualTo(new GuestAddress(0x1000200)));
        Assert.That(k.Entry32, Is.EqualTo(new GuestAddress(0x1000000)));
    }

    [Test]
    public void Load_enters_a_bzImage_without_XLF_KERNEL_64_at_its_32_bit_entry()
    {
        var image = new BzImageBuilder();
        image.Header.XLoadFlags = XLoadFlags.None;
        LoadedKernel k = Load(image);
        Assert.That(k.Boot, Is.EqualTo(new BootState(BootCpuMode.Linux32, new GuestAddress(0x1000000), new GuestAddress(PcLowMemory.ZeroPage))));
        Assert.That(k.Entry64, Is.Null);
    }

    [Test]
    public void Load_ignores_xloadflags_before_protocol_2_12()
    {
        var image = new BzImageBuilder();
        image.Header.Version = 0x020B;
        Assert.That(Load(image).Entry64, Is.Null);
    }

    [Test]
    public void Load_places_a_bzImage_at_1_MiB_when_its_pref_address_is_misaligned()
    {
        var image = new BzImageBuilder();
        image.Header.PrefAddress = 0x1001000;
        Assert.That(Load(image).KernelAddress, Is.EqualTo(new GuestAddress(0x100000)));
    }

    [Test]
    public void Load_places_a_non_relocatable_bzImage_at_1_MiB()
    {
        var image = new BzImageBuilder();
        image.Header.RelocatableKernel = 0;
        LoadedKernel k = Load(image);
        Assert.That(k.KernelAddress, Is.EqualTo(new GuestAddress(0x100000)));
        Assert.That(k.Boot.Entry, Is.EqualTo(new GuestAddress(0x100200)));
    }

    [Test]
    public void Load_reserves_init_size_from_the_aligned_runtime_start()
    {
        // Loaded at 1 MiB, a relocatable kernel moves to align_up(max(load, pref_address), kernel_alignment).
        var image = new BzImageBuilder();
        image.Header.PrefAddress = 0x1001000;
        image.Header.InitSize = 0x80_0000;
        LoadedKernel k = Load(image);
        Assert.That(k.Ranges, Does.Contain(new BootMemoryRange("kernel init area", new GuestAddress(0x1200000), 0x800000)));
    }

    [Test]
    public void Load_reserves_init_size_at_pref_address_for_a_non_relocatable_kernel()
    {
        var image = new BzImageBuilder();
        image.Header.RelocatableKernel = 0;
        image.Header.PrefAddress = 0x2000000;
        LoadedKernel k = Load(image);
        Assert.That(k.Ranges, Does.Contain(new BootMemoryRange("kernel init area", new GuestAddress(0x2000000), 0x400000)));
    }

    [Test]
    public void Load_reads_setup_sects_zero_as_four()
    {
        var image = new BzImageBuilder();
        image.Header.SetupSects = 0;
        Load(image);
        Assert.That(Memory.GetSpan(new GuestAddress(0x1000000), 16).ToArray(),
            Is.EqualTo(Enumerable.Range(0, 16).Select(BzImageBuilder.CodeByte).ToArray()));
    }

    [Test]
    public void Load_copies_the_protected_mode_code_after_the_setup_sectors_byte_for_byte()
    {
        var image = new BzImageBuilder { KernelSize = 300_000 };
        image.Header.SetupSects = 30;
        Load(image);
        byte[] expected = Enumerable.Range(0, 300_000).Select(BzImageBuilder.CodeByte).ToArray();
        Assert.That(Memory.GetSpan(new GuestAddress(0x1000000), 300_000).SequenceEqual(expected), Is.True);
    }

    [Test]
    public void Load_copies_the_image_setup_header_into_the_zero_page()
    {
        var image = new BzImageBuilder();
        image.Header.PayloadOffset = 0x100;
        image.Header.PayloadLength = 0x200;
        image.Header.HandoverOffset = 0x1234;
        image.Header.VidMode = 0xfffd;
        Load(image);
        SetupHeader h = ZeroPage.Hdr;
        Assert.Multiple(() =>
        {
            Assert.That(h.Header, Is.EqualTo(SetupHeader.HdrSMagic));
            Assert.That(h.Version, Is.EqualTo(0x020F));
            Assert.That(h.SetupSects, Is.EqualTo(4));
            Assert.That(h.PayloadOffset, Is.EqualTo(0x100));
            Assert.That(h.PayloadLength, Is.EqualTo(0x200));
            Assert.That(h.HandoverOffset, Is.EqualTo(0x1234));
            Assert.That(h.VidMode, Is.EqualTo(0xfffd));
            Assert.That(h.InitSize, Is.EqualTo(0x400000));
            Assert.That(h.PrefAddress, Is.EqualTo(0x1000000));
        });
    }

    [Test]
    public void Load_copies_the_header_only_up_to_its_end()
    {
        // A 2.06 header ends after cmdline_size (0x23c); bytes after it in the image are not header fields.
        var image = new BzImageBuilder { JumpDisplacement = 0x23c - 0x202 };
        image.Header.Version = 0x0206;
        image.Header.HardwareSubarchData = 0xdead;
        Load(image);
        Assert.That(ZeroPage.Hdr.HardwareSubarchData, Is.Zero);
        Assert.That(ZeroPage.Hdr.CmdlineSize, Is.EqualTo(2047));
    }

    [Test]
    public void Load_reads_no_fields_past_the_header_end()
    {
        // The jump says the header ends at 0x23c: init_size and pref_address past it are setup code, not fields.
        var image = new BzImageBuilder { JumpDisplacement = 0x23c - 0x202 };
        LoadedKernel k = Load(image);
        Assert.That(k.Ranges.Any(r => r.Name == "kernel init area"), Is.False);
        Assert.That(k.KernelAddress, Is.EqualTo(new GuestAddress(0x100000)));
        Assert.That(k.ImageHeader?.InitSize, Is.Zero);
    }

    [Test]
    public void Load_fills_the_loader_fields_of_the_zero_page()
    {
        Load(new BzImageBuilder(), "console=ttyS0");
        BootParams bp = ZeroPage;
        Assert.Multiple(() =>
        {
            Assert.That(bp.Hdr.TypeOfLoader, Is.EqualTo(0xFF));
            Assert.That(bp.Hdr.LoadFlags, Is.EqualTo(LoadFlags.LoadedHigh | LoadFlags.CanUseHeap));
            Assert.That(bp.Hdr.HeapEndPtr, Is.EqualTo(0xFE00));
            Assert.That(bp.Hdr.CmdLinePtr, Is.EqualTo(PcLowMemory.CommandLine));
            Assert.That(bp.ExtCmdLinePtr, Is.Zero);
            Assert.That(bp.Hdr.Code32Start, Is.EqualTo(0x1000000));
            Assert.That(bp.Hdr.HardwareSubarch, Is.Zero);
            Assert.That(bp.Hdr.RamdiskImage, Is.Zero);
            Assert.That(bp.Sentinel, Is.Zero);
        });
    }

    [Test]
    public void Load_writes_the_command_line_nul_terminated_where_cmd_line_ptr_points()
    {
        LoadedKernel k = Load(new BzImageBuilder(), "console=ttyS0 root=/dev/vda");
        Assert.That(k.CommandLineAddress, Is.EqualTo(new GuestAddress(PcLowMemory.CommandLine)));
        Assert.That(k.CommandLineLength, Is.EqualTo(27));
        Assert.That(Memory.GetSpan(new GuestAddress(ZeroPage.Hdr.CmdLinePtr), 28).ToArray(), Is.EqualTo("console=ttyS0 root=/dev/vda\0"u8.ToArray()));
    }

    [Test]
    public void Load_accepts_a_command_line_of_exactly_cmdline_size()
    {
        var image = new BzImageBuilder();
        image.Header.CmdlineSize = 10;
        Assert.That(Load(image, "0123456789").CommandLineLength, Is.EqualTo(10));
    }

    [Test]
    public void Load_clears_a_setup_data_pointer_from_the_image()
    {
        var image = new BzImageBuilder();
        image.Header.SetupData = 0x12345678;
        Load(image);
        Assert.That(ZeroPage.Hdr.SetupData, Is.Zero);
    }

    [Test]
    public void Load_writes_the_pc_memory_map_to_the_e820_table()
    {
        LoadedKernel k = Load(new BzImageBuilder());
        BootParams bp = ZeroPage;
        Assert.That(bp.E820Entries, Is.EqualTo(3));
        Assert.That(new[] { bp.E820Table[0], bp.E820Table[1], bp.E820Table[2] }, Is.EqualTo(new[]
        {
            new E820Entry(0, 0x9fc00, E820Type.Ram),
            new E820Entry(0x9fc00, 0x100000 - 0x9fc00, E820Type.Reserved),
            new E820Entry(0x100000, 64 * MiB - 0x100000, E820Type.Ram),
        }));
        Assert.That(k.MemoryMap, Is.EqualTo(new[] { bp.E820Table[0], bp.E820Table[1], bp.E820Table[2] }));
    }

    [Test]
    public void Load_publishes_the_acpi_rsdp_from_protocol_2_14()
    {
        Load(new BzImageBuilder(), rsdp: new GuestAddress(0xE0000));
        Assert.That(ZeroPage.AcpiRsdpAddr, Is.EqualTo(0xE0000));
    }

    [Test]
    public void Load_does_not_publish_the_acpi_rsdp_before_protocol_2_14()
    {
        var image = new BzImageBuilder();
        image.Header.Version = 0x020D;
        Load(image, rsdp: new GuestAddress(0xE0000));
        Assert.That(ZeroPage.AcpiRsdpAddr, Is.Zero);
    }

    [Test]
    public void Load_lists_the_ranges_it_used_in_address_order()
    {
        LoadedKernel k = Load(new BzImageBuilder(), "quiet");
        Assert.That(k.Ranges, Is.EqualTo(new[]
        {
            new BootMemoryRange("zero page", new GuestAddress(0x7000), 4096),
            new BootMemoryRange("command line", new GuestAddress(0x20000), 6),
            new BootMemoryRange("kernel", new GuestAddress(0x1000000), 64 * 1024),
            new BootMemoryRange("kernel init area", new GuestAddress(0x1000000), 0x400000),
        }));
    }

    [Test]
    public void Load_reports_the_image_header_as_read_from_the_file()
    {
        LoadedKernel k = Load(new BzImageBuilder());
        Assert.That(k.ImageHeader?.Code32Start, Is.EqualTo(0x100000));
        Assert.That(k.ImageHeader?.TypeOfLoader, Is.Zero);
    }
}
