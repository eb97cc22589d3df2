using Lguest.Boot;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.Boot;

/// <summary>Initrd placement on KVM: high, page-aligned, below initrd_addr_max and 4 GiB, clear of the kernel.</summary>
public class InitrdTests
{
    private const ulong MiB = 1 << 20;
    private TemporaryFolder _files = null!;

    [SetUp]
    public void SetUp() => _files = new TemporaryFolder();

    [TearDown]
    public void TearDown() => _files.Dispose();

    private static byte[] Pattern(int length) => Enumerable.Range(0, length).Select(i => (byte)(i * 5 + 1)).ToArray();

    private LoadedKernel Load(GuestMemory memory, BzImageBuilder image, byte[] initrd) =>
        KernelLoader.Load(memory, new KernelLoadOptions
        {
            KernelPath = _files.Write("bzImage", image.Build()),
            InitrdPath = _files.Write("initrd", initrd),
        });

    [Test]
    public void Load_puts_the_initrd_page_aligned_at_the_top_of_RAM()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(64 * MiB));
        LoadedKernel k = Load(memory, new BzImageBuilder(), Pattern(10_000));
        Assert.That(k.InitrdAddress, Is.EqualTo(new GuestAddress(64 * MiB - 12288)));
        Assert.That(k.InitrdSize, Is.EqualTo(10_000), "the kernel is told the file's size");
        Assert.That(memory.GetSpan(k.InitrdAddress!.Value, 10_000).ToArray(), Is.EqualTo(Pattern(10_000)));
    }

    [Test]
    public void Load_writes_the_initrd_address_and_size_to_the_zero_page()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(64 * MiB));
        LoadedKernel k = Load(memory, new BzImageBuilder(), Pattern(5000));
        BootParams bp = memory.Read<BootParams>(new GuestAddress(PcLowMemory.ZeroPage));
        Assert.That((bp.Hdr.RamdiskImage, bp.Hdr.RamdiskSize, bp.ExtRamdiskImage, bp.ExtRamdiskSize),
            Is.EqualTo(((uint)k.InitrdAddress!.Value.Value, 5000u, 0u, 0u)));
    }

    [Test]
    public void Load_keeps_the_initrd_below_initrd_addr_max()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(64 * MiB));
        var image = new BzImageBuilder();
        image.Header.InitrdAddrMax = 0x2FFFFFF; // the initrd's last byte at most 48 MiB - 1
        LoadedKernel k = Load(memory, image, Pattern(8192));
        Assert.That(k.InitrdAddress, Is.EqualTo(new GuestAddress(0x3000000 - 8192)));
    }

    [Test]
    public void Load_keeps_the_initrd_in_RAM_below_the_mmio_hole()
    {
        // 3 GiB below the hole and 1 GiB above 4 GiB: the initrd stays below 4 GiB and below initrd_addr_max (2 GiB).
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(4UL << 30));
        LoadedKernel k = Load(memory, new BzImageBuilder(), Pattern(4096));
        Assert.That(k.InitrdAddress, Is.EqualTo(new GuestAddress(0x80000000 - 4096)));
    }

    [Test]
    public void Load_puts_the_initrd_below_the_kernel_init_area_when_it_does_not_fit_above()
    {
        // Kernel init area [16 MiB, 56 MiB) leaves 8 MiB above it; a 10 MiB initrd must go below 16 MiB.
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(64 * MiB));
        var image = new BzImageBuilder();
        image.Header.InitSize = (uint)(40 * MiB);
        LoadedKernel k = Load(memory, image, Pattern((int)(10 * MiB)));
        Assert.That(k.InitrdAddress, Is.EqualTo(new GuestAddress(6 * MiB)));
        var initrd = k.Ranges.Single(r => r.Name == "initrd");
        Assert.That(k.Ranges.Where(r => r.Name != "initrd").Any(r => r.Overlaps(initrd)), Is.False);
    }

    [Test]
    public void Load_refuses_an_initrd_larger_than_the_room_left()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(32 * MiB));
        string initrd = _files.Write("initrd", new byte[20 * MiB]);
        var e = LoaderRefusal.AssertRefused(memory, new KernelLoadOptions { KernelPath = _files.Write("bzImage", new BzImageBuilder().Build()), InitrdPath = initrd },
            "does not fit: the initrd is 20971520 bytes but the largest free room", blamed: initrd);
        Assert.That(e.Problem, Does.Contain("is 15728640 bytes")); // [1 MiB, 16 MiB) below the kernel; 12 MiB above its init area
    }

    [Test]
    public void Load_refuses_a_missing_initrd()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(32 * MiB));
        string missing = Path.Combine(_files.Path, "no-initrd");
        LoaderRefusal.AssertRefused(memory, new KernelLoadOptions { KernelPath = _files.Write("bzImage", new BzImageBuilder().Build()), InitrdPath = missing },
            "no such file", blamed: missing);
    }

    [Test]
    public void Load_refuses_an_empty_initrd()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(32 * MiB));
        string empty = _files.Write("empty", []);
        LoaderRefusal.AssertRefused(memory, new KernelLoadOptions { KernelPath = _files.Write("bzImage", new BzImageBuilder().Build()), InitrdPath = empty },
            "is empty", blamed: empty);
    }
}
