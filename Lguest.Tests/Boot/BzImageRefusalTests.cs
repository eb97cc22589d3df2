using Lguest.Boot;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.Boot;

/// <summary>Every bzImage the loader refuses, each with its own message and nothing written.</summary>
internal sealed class BzImageRefusalTests : LoaderFixture
{
    // Small RAM: each refusal checks afterwards that every byte is still zero.
    protected override GuestMemoryLayout Layout => GuestMemoryLayout.WithMmioHole(24 * MiB);

    private void AssertRefused(BzImageBuilder image, string fragment, string commandLine = "", BootPlatform platform = BootPlatform.Pc) =>
        LoaderRefusal.AssertRefused(Memory, new KernelLoadOptions
        {
            KernelPath = Files.Write("bzImage", image.Build()),
            CommandLine = commandLine,
            Platform = platform,
        }, fragment);

    [Test]
    public void Load_refuses_a_bad_boot_flag()
    {
        var image = new BzImageBuilder();
        image.Header.BootFlag = 0x1234;
        AssertRefused(image, "boot_flag is 0x1234, not 0xaa55");
    }

    [Test]
    public void Load_refuses_a_boot_protocol_older_than_2_06()
    {
        var image = new BzImageBuilder();
        image.Header.Version = 0x0205;
        AssertRefused(image, "boot protocol 2.05, too old: 2.06 or later is needed");
    }

    [Test]
    public void Load_refuses_a_header_shorter_than_its_protocol_needs()
    {
        var image = new BzImageBuilder { JumpDisplacement = 0x20 };
        AssertRefused(image, "setup header ending at 0x222");
    }

    [Test]
    public void Load_refuses_setup_sects_that_point_past_the_file()
    {
        var image = new BzImageBuilder { KernelSize = 512, TruncateTo = 40 * 512 };
        image.Header.SetupSects = 60;
        AssertRefused(image, "setup_sects 60 puts the protected-mode kernel at 0x7a00, at or past the end of the 20480-byte file");
    }

    [Test]
    public void Load_refuses_a_zImage()
    {
        var image = new BzImageBuilder();
        image.Header.LoadFlags = LoadFlags.None;
        AssertRefused(image, "is a zImage");
    }

    [Test]
    public void Load_refuses_a_bzImage_truncated_below_its_syssize()
    {
        var image = new BzImageBuilder { KernelSize = 0x10000, KeepSysSize = true };
        image.Header.SysSize = 0x2000; // 128 KiB promised, 64 KiB present
        AssertRefused(image, "is truncated: syssize says 0x20000 bytes");
    }

    [Test]
    public void Load_refuses_a_payload_that_points_past_the_kernel()
    {
        var image = new BzImageBuilder();
        image.Header.PayloadOffset = 0x8000;
        image.Header.PayloadLength = 0x9000;
        AssertRefused(image, "payload_offset 0x8000 and payload_length 0x9000 pointing past the 0x10000-byte protected-mode kernel");
    }

    [Test]
    public void Load_refuses_a_kernel_info_offset_past_the_kernel()
    {
        var image = new BzImageBuilder();
        image.Header.KernelInfoOffset = 0x10000;
        AssertRefused(image, "kernel_info_offset 0x10000 pointing past");
    }

    [Test]
    public void Load_refuses_a_kernel_alignment_that_is_not_a_power_of_two()
    {
        var image = new BzImageBuilder();
        image.Header.KernelAlignment = 0x30_0000;
        AssertRefused(image, "kernel_alignment 0x300000, not a power of two");
    }

    [Test]
    public void Load_refuses_a_kernel_whose_init_size_does_not_fit_in_RAM()
    {
        var image = new BzImageBuilder();
        image.Header.InitSize = 0x4000000;
        AssertRefused(image, "needs init_size 0x4000000 bytes of RAM from its runtime start 0x1000000");
    }

    [Test]
    public void Load_refuses_a_pref_address_that_leaves_no_room_for_init_size()
    {
        var image = new BzImageBuilder();
        image.Header.PrefAddress = 0x3F00000;
        AssertRefused(image, "from its runtime start 0x4000000");
    }

    [Test]
    public void Load_refuses_a_pref_address_that_cannot_be_aligned()
    {
        var image = new BzImageBuilder();
        image.Header.PrefAddress = ulong.MaxValue - 0x1000;
        AssertRefused(image, "which cannot be aligned to 0x200000");
    }

    [Test]
    public void Load_refuses_a_kernel_larger_than_RAM()
    {
        using var small = GuestMemory.Allocate(GuestMemoryLayout.Flat(2 * MiB));
        var image = new BzImageBuilder { KernelSize = (int)(1 * MiB + 4096) };
        image.Header.RelocatableKernel = 0;
        image.Header.InitSize = 0;
        LoaderRefusal.AssertRefused(small, new KernelLoadOptions { KernelPath = Files.Write("big", image.Build()) },
            "its 0x101000-byte protected-mode kernel at 0x100000 is not inside guest RAM below 4 GiB (RAM [0x0, 0x200000))");
    }

    [Test]
    public void Load_refuses_a_command_line_longer_than_cmdline_size()
    {
        var image = new BzImageBuilder();
        image.Header.CmdlineSize = 10;
        AssertRefused(image, "takes a command line of at most 10 bytes (cmdline_size); this one is 11", "0123456789A");
    }

    [Test]
    public void Load_counts_the_command_line_in_utf8_bytes()
    {
        var image = new BzImageBuilder();
        image.Header.CmdlineSize = 10;
        AssertRefused(image, "this one is 12", "éééééé");
    }

    [Test]
    public void Load_refuses_a_command_line_longer_than_the_room_kept_for_it()
    {
        var image = new BzImageBuilder();
        image.Header.CmdlineSize = uint.MaxValue;
        AssertRefused(image, "the platform keeps 523263 bytes for it", new string('x', 0x80000));
    }

    [Test]
    public void Load_refuses_a_command_line_containing_a_nul()
    {
        AssertRefused(new BzImageBuilder(), "containing a NUL character", "console=ttyS0\0init=/bin/sh");
    }

    [Test]
    public void Load_on_lguest_refuses_code32_start_outside_the_loaded_kernel()
    {
        var image = new BzImageBuilder();
        image.Header.Code32Start = 0x200000;
        AssertRefused(image, "code32_start 0x200000, outside the protected-mode kernel loaded at [0x100000, +0x10000)", platform: BootPlatform.Lguest);
    }
}
