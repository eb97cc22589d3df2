using Lguest.Boot;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.Boot;

/// <summary>The lguest platform keeps the lguest launcher's layout and zero page (the seeds' load_bzimage, load_initrd and main()).</summary>
internal sealed class LguestPlatformTests : LoaderFixture
{
    protected override GuestMemoryLayout Layout => GuestMemoryLayout.Flat(64 * MiB);

    private LoadedKernel Load(BzImageBuilder image, string commandLine = "", string? initrd = null) =>
        KernelLoader.Load(Memory, new KernelLoadOptions
        {
            KernelPath = Files.Write("bzImage", image.Build()),
            CommandLine = commandLine,
            InitrdPath = initrd,
            Platform = BootPlatform.Lguest,
        });

    private BootParams ZeroPage => Memory.Read<BootParams>(GuestAddress.Zero);

    [Test]
    public void Load_puts_the_protected_mode_code_at_1_MiB_and_enters_at_code32_start_in_32_bit_mode()
    {
        // Even a relocatable 64-bit-capable image: the launcher ignores pref_address and the 64-bit entry.
        var image = new BzImageBuilder();
        image.Header.Code32Start = 0x100020;
        LoadedKernel k = Load(image);
        Assert.That(k.Boot, Is.EqualTo(new BootState(BootCpuMode.Linux32, new GuestAddress(0x100020), GuestAddress.Zero)));
        Assert.That(k.KernelAddress, Is.EqualTo(new GuestAddress(0x100000)));
        Assert.That(Memory.GetSpan(new GuestAddress(0x100000), 64).ToArray(), Is.EqualTo(Enumerable.Range(0, 64).Select(BzImageBuilder.CodeByte).ToArray()));
    }

    [Test]
    public void Load_keeps_code32_start_as_the_image_has_it()
    {
        var image = new BzImageBuilder();
        image.Header.Code32Start = 0x100020;
        Load(image);
        Assert.That(ZeroPage.Hdr.Code32Start, Is.EqualTo(0x100020));
    }

    [Test]
    public void Load_fills_the_zero_page_at_address_0_as_the_launcher_did()
    {
        Load(new BzImageBuilder(), "root=/dev/vda");
        BootParams bp = ZeroPage;
        Assert.Multiple(() =>
        {
            Assert.That(bp.Hdr.Version, Is.EqualTo(0x0207), "version");
            Assert.That(bp.Hdr.HardwareSubarch, Is.EqualTo(1), "X86_SUBARCH_LGUEST");
            Assert.That(bp.Hdr.KernelAlignment, Is.EqualTo(0x1000000), "kernel_alignment");
            Assert.That(bp.Hdr.LoadFlags & LoadFlags.KeepSegments, Is.EqualTo(LoadFlags.KeepSegments), "KEEP_SEGMENTS");
            Assert.That(bp.Hdr.TypeOfLoader, Is.EqualTo(0xFF));
            Assert.That(bp.Hdr.CmdLinePtr, Is.EqualTo(0x1000), "the command line follows the zero page");
            Assert.That(bp.TbootAddr, Is.Zero);
            Assert.That(bp.E820Entries, Is.EqualTo(1));
            Assert.That(bp.E820Table[0], Is.EqualTo(new E820Entry(0, 64 * MiB, E820Type.Ram)));
        });
        Assert.That(Memory.GetSpan(new GuestAddress(0x1000), 14).ToArray(), Is.EqualTo("root=/dev/vda\0"u8.ToArray()));
    }

    [Test]
    public void Load_reserves_init_size_from_16_MiB_the_alignment_the_launcher_imposes()
    {
        var image = new BzImageBuilder();
        image.Header.PrefAddress = 0x100000;
        LoadedKernel k = Load(image);
        Assert.That(k.Ranges, Does.Contain(new BootMemoryRange("kernel init area", new GuestAddress(0x1000000), 0x400000)));
    }

    [Test]
    public void Load_puts_the_initrd_at_the_top_of_RAM_with_the_page_rounded_size()
    {
        byte[] initrd = Enumerable.Range(0, 10_000).Select(i => (byte)(i * 3)).ToArray();
        LoadedKernel k = Load(new BzImageBuilder(), initrd: Files.Write("initrd", initrd));
        Assert.That(k.InitrdAddress, Is.EqualTo(new GuestAddress(64 * MiB - 12288)));
        Assert.That(k.InitrdSize, Is.EqualTo(12288));
        Assert.That((ZeroPage.Hdr.RamdiskImage, ZeroPage.Hdr.RamdiskSize), Is.EqualTo(((uint)(64 * MiB - 12288), 12288u)));
        Assert.That(Memory.GetSpan(k.InitrdAddress!.Value, 10_000).ToArray(), Is.EqualTo(initrd));
        Assert.That(Memory.GetSpan(new GuestAddress(64 * MiB - 12288 + 10_000), 12288 - 10_000).ContainsAnyExcept((byte)0), Is.False);
    }

    [Test]
    public void Load_reports_one_ram_entry_for_all_of_RAM()
    {
        LoadedKernel k = Load(new BzImageBuilder());
        Assert.That(k.MemoryMap, Is.EqualTo(new[] { new E820Entry(0, 64 * MiB, E820Type.Ram) }));
    }
}
