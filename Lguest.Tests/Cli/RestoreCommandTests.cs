using Lguest.Cli;
using Lguest.Hypervisor;
using Lguest.Machine;
using Lguest.Memory;
using Lguest.Snapshot;
using Lguest.Tests.Support;

namespace Lguest.Tests.Cli;

/// <summary>
/// <c>lguest --restore=DIR</c> refuses a snapshot it cannot use with one line and exit 3, before any hypervisor is
/// opened or anything mapped (the checks that need the hypervisor, a CPUID feature or the memory image, are the bed's:
/// SnapshotInBedTests). And the options that go with it.
/// </summary>
public class RestoreCommandTests
{
    private TemporaryFolder _folder = null!;

    [SetUp]
    public void SetUp() => _folder = new TemporaryFolder();

    [TearDown]
    public void TearDown() => _folder.Dispose();

    private string Dir => Path.Combine(_folder.Path, "snap");

    private void WriteSnapshot(bool withMachine = true)
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(16 << 20));
        memory.Write(new GuestAddress(0x7000), "guest data"u8);
        var sections = new List<SnapshotSection>
        {
            new("vm", BackendStateRecord.Encode(new BackendState("kvm", [new("clock", new byte[48])]))),
            new("vcpu/0", BackendStateRecord.Encode(new BackendState("kvm", [new("regs", new byte[144])]))),
        };
        if (withMachine)
            sections.Insert(0, new(MachineSnapshot.SectionName, new MachineSnapshot("pc", 1, 16 << 20).Encode()));
        SnapshotDirectory.Write(Dir, memory, sections);
    }

    private static (ExitCode Code, string[] Lines) Restore(params string[] arguments)
    {
        Assert.That(RunArguments.TryParse(arguments, out RunArguments parsed, out string? error), Is.True, error);
        using var stderr = new StringWriter();
        ExitCode code = RunCommand.Execute(parsed, new RunEnvironment(Stream.Null, Stream.Null, stderr, OwnsTerminal: false));
        return (code, stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static void Flip(string path, long offset, byte with)
    {
        using FileStream file = File.Open(path, FileMode.Open, FileAccess.ReadWrite);
        file.Position = offset;
        int old = file.ReadByte();
        file.Position = offset;
        file.WriteByte((byte)(old ^ with));
    }

    [TestCase("not a directory", "is not a directory")]
    [TestCase("no manifest", "manifest is missing")]
    [TestCase("truncated state", "the manifest says")]
    [TestCase("bit flipped in the state", "state does not match its checksum")]
    [TestCase("bit flipped in the manifest", "the manifest does not match its checksum")]
    [TestCase("other version", "the snapshot is in format version 3; this lguest reads version 2 only")]
    [TestCase("no machine record", "the snapshot has no state for 'machine'")]
    [TestCase("missing disk", "disk.img': not found")]
    public void A_bad_snapshot_is_one_line_and_exit_3(string damage, string names)
    {
        WriteSnapshot(withMachine: damage != "no machine record");
        string manifest = Path.Combine(Dir, SnapshotFormat.ManifestFile), state = Path.Combine(Dir, SnapshotFormat.StateFile);
        string target = Dir;
        switch (damage)
        {
            case "not a directory":
                target = Path.Combine(_folder.Path, "nothing-here");
                break;
            case "no manifest":
                File.Delete(manifest);
                break;
            case "truncated state":
                using (FileStream file = File.Open(state, FileMode.Open))
                    file.SetLength(file.Length - 10);
                break;
            case "bit flipped in the state":
                Flip(state, 20, 0x10);
                break;
            case "bit flipped in the manifest":
                Flip(manifest, 30, 0x01);
                break;
            case "other version":
                Flip(manifest, 8, 0x01); // the u16 version after the 8-byte magic: 2 becomes 3
                break;
        }

        (ExitCode code, string[] lines) = Restore("--restore=" + target, "--block=" + Path.Combine(_folder.Path, "disk.img"));
        Assert.That(code, Is.EqualTo(ExitCode.BadInput), string.Join('\n', lines));
        Assert.That(lines, Has.Length.EqualTo(1));
        Assert.That(lines[0], Does.StartWith("lguest: ").And.Contain(names));
    }

    [Test]
    public void Restore_takes_devices_but_no_memory_kernel_or_kernel_arguments()
    {
        Assert.That(RunArguments.TryParse(["--restore=/snap", "--block=a.img", "--rng", "--snapshot-to=/again"], out RunArguments parsed, out string? error), Is.True, error);
        Assert.That((parsed.Restore, parsed.SnapshotTo, parsed.Devices.Count), Is.EqualTo(("/snap", "/again", 2)));
        Assert.That(RunArguments.TryParse(["--restore=/snap", "256", "vmlinux"], out _, out error), Is.False);
        Assert.That(error, Is.EqualTo("--restore takes no <mem-in-mb>, vmlinux or kernel arguments: the snapshot holds the guest"));
        Assert.That(RunArguments.TryParse(["--restore=/a", "--restore=/b"], out _, out error), Is.False);
        Assert.That(error, Is.EqualTo("--restore given twice ('/a', then '/b')"));
    }

    [Test]
    public void Verify_memory_is_taken_with_restore_only()
    {
        Assert.That(RunArguments.TryParse(["--restore=/snap", "--verify-memory"], out RunArguments parsed, out string? error), Is.True, error);
        Assert.That(parsed.VerifyMemory, Is.True);
        Assert.That(RunArguments.TryParse(["--restore=/snap"], out parsed, out error), Is.True, error);
        Assert.That(parsed.VerifyMemory, Is.False);
        Assert.That(RunArguments.TryParse(["--verify-memory", "256", "vmlinux"], out _, out error), Is.False);
        Assert.That(error, Is.EqualTo("--verify-memory checks a snapshot's memory: it is taken only with --restore"));
    }
}
