using System.Buffers.Binary;
using Lguest.Boot;
using Lguest.Memory;
using Lguest.Tests.Support;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Tests.Boot;

/// <summary>
/// Randomized (seeded, reproducible) header corruption of the real Debian kernel: the loader either
/// loads the image or refuses it with a <see cref="KernelImageException"/>, nothing else. A refusal
/// leaves guest memory untouched; a load writes nothing outside the ranges it reports.
/// </summary>
public class KernelImageMutationTests
{
    private const ulong MiB = 1 << 20;
    private const int Iterations = 200;
    private static readonly byte[] s_interesting = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

    private TemporaryFolder _files = null!;
    private GuestMemory _memory = null!;
    private string _initrd = "";

    [OneTimeSetUp]
    public void SetUp()
    {
        _files = new TemporaryFolder();
        _memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(128 * MiB));
        _initrd = _files.Write("initrd", Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray());
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        _memory.Dispose();
        _files.Dispose();
    }

    [Test]
    public void Load_of_a_bzImage_with_corrupted_header_bytes_throws_only_KernelImageException()
    {
        string copy = Path.Combine(_files.Path, "bzImage");
        File.Copy(TestKernel.CloudBzImage, copy);
        // The boot sector's tail and the whole header region (0x1f1 up to 0x290), plus the jump byte.
        Mutate(copy, 0x1e0, 0x290 - 0x1e0, seed: 20261125);
    }

    [Test]
    public void Load_of_a_vmlinux_with_corrupted_elf_and_program_headers_throws_only_KernelImageException()
    {
        string copy = Path.Combine(_files.Path, "vmlinux");
        File.Copy(TestKernel.CloudVmlinux, copy);
        byte[] ehdr = new byte[64];
        using (FileStream f = File.OpenRead(copy))
            f.ReadExactly(ehdr);
        int phoff = (int)BinaryPrimitives.ReadUInt64LittleEndian(ehdr.AsSpan(32));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(ehdr.AsSpan(56));
        Assert.That(phoff, Is.EqualTo(64), "program headers follow the ELF header");
        Mutate(copy, 0, 64 + phnum * 56, seed: 1125);
    }

    private void Mutate(string path, int regionStart, int regionLength, int seed)
    {
        var random = new Random(seed);
        byte[] original = new byte[regionLength];
        using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Read(file, original, regionStart);
        int loaded = 0, refused = 0;
        var problems = new HashSet<string>();
        for (int iteration = 0; iteration < Iterations; iteration++)
        {
            byte[] mutated = (byte[])original.Clone();
            var changes = new List<string>();
            for (int m = random.Next(1, 4); m > 0; m--)
            {
                int at = random.Next(regionLength);
                byte value = random.Next(3) == 0 ? s_interesting[random.Next(s_interesting.Length)] : (byte)random.Next(256);
                mutated[at] = value;
                changes.Add($"0x{regionStart + at:x}=0x{value:x2}");
            }
            RandomAccess.Write(file, mutated, regionStart);
            var options = new KernelLoadOptions
            {
                KernelPath = path,
                Platform = random.Next(4) == 0 ? BootPlatform.Lguest : BootPlatform.Pc,
                InitrdPath = random.Next(2) == 0 ? _initrd : null,
                CommandLine = new string('c', random.Next(2) == 0 ? random.Next(64) : random.Next(4096)),
                PreferPvh = random.Next(2) == 0,
            };
            string what = $"seed {seed} iteration {iteration}: {string.Join(", ", changes)} on {options.Platform}";
            try
            {
                LoadedKernel k = KernelLoader.Load(_memory, options);
                loaded++;
                AssertWrittenOnlyInside(k.Ranges, what);
                foreach (BootMemoryRange r in k.Ranges)
                    _memory.Clear(r.Start, r.Length);
            }
            catch (KernelImageException e)
            {
                refused++;
                problems.Add(System.Text.RegularExpressions.Regex.Replace(e.Problem, @"\b(0x[0-9a-f]+|[0-9]+)\b", "N"));
                Assert.That(LoaderRefusal.IsAllZero(_memory), Is.True, $"{what}: memory written before the refusal \"{e.Message}\"");
            }
            catch (Exception e)
            {
                Assert.Fail($"{what}: {e.GetType().Name} escaped: {e}");
            }
        }
        RandomAccess.Write(file, original, regionStart);
        TestContext.Out.WriteLine($"{Iterations} mutations: {loaded} loaded, {refused} refused with {problems.Count} distinct problems:");
        foreach (string p in problems.Order(StringComparer.Ordinal))
            TestContext.Out.WriteLine("  " + p);
        Assert.That(refused, Is.GreaterThan(Iterations / 10), "the mutations reach the checks");
    }

    /// <summary>Every nonzero byte of guest RAM lies inside one of <paramref name="ranges"/>.</summary>
    private void AssertWrittenOnlyInside(IReadOnlyList<BootMemoryRange> ranges, string what)
    {
        foreach (GuestMemoryRegion region in _memory.Layout.Regions)
        {
            ulong at = region.Start.Value;
            foreach (BootMemoryRange r in ranges.Where(r => r.End.Value > region.Start.Value && r.Start.Value < region.End.Value).OrderBy(r => r.Start))
            {
                AssertZero(at, Math.Min(r.Start.Value, region.End.Value), what);
                at = Math.Max(at, r.End.Value);
            }
            AssertZero(at, region.End.Value, what);
        }
    }

    private void AssertZero(ulong from, ulong to, string what)
    {
        for (ulong at = from; at < to; at += 1 << 30)
        {
            int chunk = (int)Math.Min(to - at, 1 << 30);
            if (_memory.GetSpan(new GuestAddress(at), chunk).ContainsAnyExcept((byte)0))
                Assert.Fail($"{what}: bytes written in [0x{at:x}, 0x{at + (ulong)chunk:x}), outside every reported range");
        }
    }
}
