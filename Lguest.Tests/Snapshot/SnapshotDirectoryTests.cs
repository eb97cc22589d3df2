using System.Buffers.Binary;
using System.IO.Hashing;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Snapshot;
using Lguest.Tests.Support;

namespace Lguest.Tests.Snapshot;

/// <summary>The snapshot directory: written, read back, and every kind of damage refused with one line.</summary>
public class SnapshotDirectoryTests
{
    private TemporaryFolder _folder = null!;
    private long _stateLength;
    private byte[] _manifest = [];

    [SetUp]
    public void SetUp() => _folder = new TemporaryFolder();

    [TearDown]
    public void TearDown() => _folder.Dispose();

    private string Dir => Path.Combine(_folder.Path, "snap");

    private string FileIn(string name) => Path.Combine(Dir, name);

    private static readonly SnapshotSection[] Sections =
    [
        new("vm", BackendStateRecord.Encode(new BackendState("kvm", [new("clock", new byte[48])]))),
        new("vcpu/0", BackendStateRecord.Encode(new BackendState("kvm", [new("regs", Enumerable.Range(0, 144).Select(i => (byte)i).ToArray())]))),
        new("platform/uart", new byte[] { 1, 2, 3 }),
    ];

    private SnapshotManifest WriteSample()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(16 << 20));
        memory.Write(new GuestAddress(0x7000), "guest data"u8);
        return SnapshotDirectory.Write(Dir, memory, Sections);
    }

    [Test]
    public void A_snapshot_reads_back_with_its_sections_and_memory()
    {
        SnapshotManifest written = WriteSample();
        SnapshotContents read = SnapshotDirectory.Read(Dir);
        Assert.That(read.Sections.Select(s => (s.Name, s.Data.ToArray())), Is.EqualTo(Sections.Select(s => (s.Name, s.Data.ToArray()))));
        Assert.That(read.Manifest.Memory.Extents, Is.EqualTo(written.Memory.Extents));
        Assert.That(read.Manifest.Layout.Regions, Is.EqualTo(GuestMemoryLayout.WithMmioHole(16 << 20).Regions));
        using GuestMemory memory = read.MapMemory();
        Assert.That(memory.GetSpan(new GuestAddress(0x7000), 10).ToArray(), Is.EqualTo("guest data"u8.ToArray()));
        Assert.That(BackendStateRecord.Decode(read.GetSection("vcpu/0").Data, "vCPU 0").Sections.Single().Data.ToArray(),
            Is.EqualTo(Enumerable.Range(0, 144).Select(i => (byte)i).ToArray()));
        Assert.That(Directory.GetFiles(Dir).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { "manifest", "memory", "state" }));
    }

    [Test]
    public void A_second_snapshot_into_the_same_directory_replaces_the_first()
    {
        WriteSample();
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(16 << 20));
        memory.Write(new GuestAddress(0x9000), "second"u8);
        SnapshotDirectory.Write(Dir, memory, [new SnapshotSection("vm", new byte[] { 9 })]);
        SnapshotContents read = SnapshotDirectory.Read(Dir);
        Assert.That(read.Sections.Single().Name, Is.EqualTo("vm"));
        using GuestMemory mapped = read.MapMemory();
        Assert.That((mapped.Read<ulong>(new GuestAddress(0x7000)), mapped.GetSpan(new GuestAddress(0x9000), 6).ToArray()), Is.EqualTo((0UL, "second"u8.ToArray())));
    }

    /// <summary>Each damage, and the refusal's reason and line.</summary>
    public static IEnumerable<TestCaseData> Damages()
    {
        yield return Case("no manifest", d => File.Delete(d.FileIn("manifest")), SnapshotRefusal.Truncated, d => $"{d.FileIn("manifest")} is missing: {d.Dir} is not a complete snapshot");
        yield return Case("no state file", d => File.Delete(d.FileIn("state")), SnapshotRefusal.Truncated, d => $"{d.FileIn("state")} is missing: {d.Dir} is not a complete snapshot");
        yield return Case("a truncated manifest", d => Truncate(d.FileIn("manifest"), 20), SnapshotRefusal.Truncated,
            d => $"the manifest: ends {BinaryPrimitives.ReadUInt32LittleEndian(d._manifest.AsSpan(12)) - 4} bytes early");
        yield return Case("an empty manifest", d => Truncate(d.FileIn("manifest"), 0), SnapshotRefusal.Corrupt, _ => "the manifest is not a lguest snapshot manifest (wrong magic)");
        yield return Case("a bit flipped in the manifest", d => Flip(d.FileIn("manifest"), 40), SnapshotRefusal.Corrupt, _ => "the manifest does not match its checksum");
        yield return Case("another format version", d => Rewrite(d.FileIn("manifest"), 8, 3), SnapshotRefusal.Version, _ => "the snapshot is in format version 3; this lguest reads version 2 only");
        yield return Case("a truncated state file", d => Truncate(d.FileIn("state"), 30), SnapshotRefusal.Truncated, d => $"{d.FileIn("state")} is 30 bytes; the manifest says {d._stateLength}");
        yield return Case("a bit flipped in the state file", d => Flip(d.FileIn("state"), 20), SnapshotRefusal.Corrupt, d => $"{d.FileIn("state")} does not match its checksum");
        yield return Case("a state file made longer", d => File.AppendAllText(d.FileIn("state"), "x"), SnapshotRefusal.Corrupt, d => $"{d.FileIn("state")} is {d._stateLength + 1} bytes; the manifest says {d._stateLength}");
    }

    private static TestCaseData Case(string name, Action<SnapshotDirectoryTests> damage, SnapshotRefusal reason, Func<SnapshotDirectoryTests, string> message) =>
        new TestCaseData(damage, reason, message).SetName($"A snapshot with {name} is refused");

    [TestCaseSource(nameof(Damages))]
    public void A_damaged_snapshot_is_refused_with_one_line(Action<SnapshotDirectoryTests> damage, SnapshotRefusal reason, Func<SnapshotDirectoryTests, string> message)
    {
        WriteSample();
        _stateLength = new FileInfo(FileIn("state")).Length;
        _manifest = File.ReadAllBytes(FileIn("manifest"));
        damage(this);
        var error = Assert.Throws<SnapshotException>(() => SnapshotDirectory.Read(Dir))!;
        Assert.That((error.Reason, error.Message), Is.EqualTo((reason, message(this))));
        Assert.That(error.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void A_bit_flipped_in_guest_memory_is_refused_when_it_is_mapped()
    {
        SnapshotManifest manifest = WriteSample();
        Flip(FileIn("memory"), (long)manifest.Memory.Extents[0].Offset + 3);
        SnapshotContents read = SnapshotDirectory.Read(Dir);
        var error = Assert.Throws<SnapshotException>(() => read.MapMemory())!;
        Assert.That((error.Reason, error.Message), Is.EqualTo((SnapshotRefusal.Corrupt, $"{FileIn("memory")}: the guest memory does not match its checksum (on the 1 pages sampled)")));
        error = Assert.Throws<SnapshotException>(() => read.MapMemory(ImageVerification.Full))!;
        Assert.That(error.Reason, Is.EqualTo(SnapshotRefusal.Corrupt));
    }

    [Test]
    public void A_missing_memory_file_is_refused_when_it_is_mapped()
    {
        WriteSample();
        File.Delete(FileIn("memory"));
        SnapshotContents read = SnapshotDirectory.Read(Dir);
        var error = Assert.Throws<SnapshotException>(() => read.MapMemory())!;
        Assert.That((error.Reason, error.Message), Is.EqualTo((SnapshotRefusal.Truncated, $"{FileIn("memory")} is missing: {Dir} is not a complete snapshot")));
    }

    [Test]
    public void A_missing_section_is_refused_by_name()
    {
        WriteSample();
        Assert.That(() => SnapshotDirectory.Read(Dir).GetSection("device/block0"),
            Throws.TypeOf<SnapshotException>().With.Message.EqualTo("the snapshot has no state for 'device/block0': it was taken of a machine with other devices"));
    }

    [TestCase("", TestName = "A section without a name cannot be written")]
    [TestCase("new\nline", TestName = "A section name with a control character cannot be written")]
    public void An_invalid_section_name_cannot_be_written(string name) =>
        Assert.That(() => SnapshotStateFile.Encode([new SnapshotSection(name, Array.Empty<byte>())]), Throws.ArgumentException);

    [Test]
    public void A_state_file_naming_a_section_twice_is_refused()
    {
        byte[] one = SnapshotStateFile.Encode([new SnapshotSection("vm", new byte[] { 1 })]);
        // Same section twice: count 2, then the one section's bytes twice.
        byte[] twice = [.. one.AsSpan(0, 8), 2, 0, 0, 0, .. one.AsSpan(12), .. one.AsSpan(12)];
        Assert.That(() => SnapshotStateFile.Parse(twice), Throws.TypeOf<SnapshotException>().With.Message.EqualTo("the state file: section 'vm' appears twice"));
    }

    [Test]
    public void A_manifest_with_a_checksum_made_right_but_a_layout_that_cannot_be_is_refused()
    {
        WriteSample();
        byte[] manifest = File.ReadAllBytes(FileIn("manifest"));
        // The first region's size (body offset 8 + 16 + 4 + 8 = 36, body at 16): 0, an empty region.
        BinaryPrimitives.WriteUInt64LittleEndian(manifest.AsSpan(16 + 36), 0);
        BinaryPrimitives.WriteUInt128LittleEndian(manifest.AsSpan(manifest.Length - 16), XxHash128.HashToUInt128(manifest.AsSpan(0, manifest.Length - 16)));
        Assert.That(() => SnapshotManifest.Parse(manifest), Throws.TypeOf<SnapshotException>().With.Message.StartsWith("the manifest: RAM region [0x0, 0x0) is empty or not page-aligned"));
    }

    private static void Truncate(string path, long length)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        RandomAccess.SetLength(file, length);
    }

    private static void Flip(string path, long offset) => Rewrite(path, offset, (byte)(ReadByte(path, offset) ^ 0x04));

    private static byte ReadByte(string path, long offset)
    {
        using var file = File.OpenHandle(path);
        byte[] one = new byte[1];
        RandomAccess.Read(file, one, offset);
        return one[0];
    }

    private static void Rewrite(string path, long offset, byte value)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        RandomAccess.Write(file, new[] { value }, offset);
    }
}
