using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// Issue 6's devices as the stock Debian cloud kernel uses them, with lguest as the L2 VMM in the nested bed:
/// one bed run boots the guest image with a console, a read-write disk, a read-only disk and an rng, and
/// runs the <c>virtio</c> scenario (Lguest.Tests/Guests/scenarios/virtio); each test checks one device's
/// part of that run. The disk images are made here with random contents, so every check compares against
/// bytes the guest could not have guessed. L1 sees them through its overlay and hashes them after lguest
/// exits (its writes stay in L1's memory, never reach this host's files).
/// </summary>
[Category("Linux")]
public partial class VirtioDevicesInBedTests
{
    private const int DiskBytes = 8 << 20;
    private const int ReadOnlyDiskBytes = 1 << 20;
    private const int PatternOffset = 3 << 20;
    private const int PatternBytes = 1 << 20;
    private const int RandomBytes = 1 << 20;

    /// <summary>The line the host types on the guest's console; read back on /dev/hvc0 it comes out bracketed.</summary>
    private const string HostLine = "host-to-guest over virtio-console 0123456789 abcdefghijklmnopqrstuvwxyz";

    private TemporaryFolder? _folder;
    private NestedBedRun _run = null!;
    private byte[] _disk = [];
    private byte[] _readOnlyDisk = [];

    [GeneratedRegex(@"^GUEST-PCI (\S+) 0x([0-9a-f]{4}):0x([0-9a-f]{4}) driver=(\S+)$", RegexOptions.Multiline)]
    private static partial Regex PciFunction();

    // GUEST-IRQ 24: 3 PCI-MSIX-0000:00:01.0 0-edge virtio0-config (the chip is PCI-MSI before Linux 6.2).
    [GeneratedRegex(@"^GUEST-IRQ \d+:((?: \d+)+) (\S+) \S+ (.+)$", RegexOptions.Multiline)]
    private static partial Regex InterruptLine();

    [GeneratedRegex(@"^GUEST-RNG status=(\d+) bytes=(\d+) nonzero=(\d+) gzip=(\d+) distinct=(\d+) seconds=([0-9.]+)$", RegexOptions.Multiline)]
    private static partial Regex Rng();

    /// <summary>The pattern the scenario writes at 3 MiB into vda: a 32-byte line repeated over 1 MiB.</summary>
    private static byte[] Pattern()
    {
        byte[] line = Encoding.ASCII.GetBytes("lguest-virtio-blk-pattern-0042!\n");
        var pattern = new byte[PatternBytes];
        for (int offset = 0; offset < pattern.Length; offset += line.Length)
            line.CopyTo(pattern, offset);
        return pattern;
    }

    private static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    [OneTimeSetUp]
    public void BootOnce()
    {
        NestedBed bed = NestedBed.OpenOrIgnore();
        _folder = new TemporaryFolder();
        // L1 covers /run and /dev/shm with tmpfs of its own: a folder there would not be the same one.
        Assert.That(_folder.Path, Does.Not.StartWith("/run/").And.Not.StartWith("/dev/shm/"), "TMPDIR must be visible inside L1");
        _disk = RandomNumberGenerator.GetBytes(DiskBytes);
        _readOnlyDisk = RandomNumberGenerator.GetBytes(ReadOnlyDiskBytes);
        string disk = _folder.Write("vda.img", _disk);
        string readOnlyDisk = _folder.Write("vdb.img", _readOnlyDisk);

        // console=hvc0 last: the guest's console is the virtio one, so lguest gives it the keys (its stdin, L1's console).
        string lguest = NestedBed.LguestCommand(GuestKernelFormat.PvhVmlinux,
            "--block=" + disk, "--block=ro:" + readOnlyDisk, "--rng", "lguest.scenario=virtio", "console=hvc0");
        string command = $"""
            {lguest}
            status=$?
            echo "BED-LGUEST-EXIT $status"
            for image in {NestedBed.Quote(disk)} {NestedBed.Quote(readOnlyDisk)}; do
                echo "BED-IMAGE $(basename "$image") sha256=$(sha256sum < "$image" | cut -d' ' -f1) bytes=$(stat -c %s "$image")"
            done
            exit $status
            """;

        using NestedBedSession session = bed.Start(command, TimeSpan.FromMinutes(15));
        // Type only once the guest reads: lguest has the terminal in raw mode by then, and the guest's tty is open.
        session.WaitFor(new Regex("GUEST-HVC0-WAITING|BED-EXIT", RegexOptions.CultureInvariant), "the guest waiting on hvc0");
        if (!session.HasExited)
            session.Type(HostLine + "\n");
        session.WaitFor(new Regex("BED-EXIT", RegexOptions.CultureInvariant));
        _run = session.Finish();

        TimeSpan? up = session.TimeOf("BED-COMMAND-START");
        TimeSpan? ready = session.TimeOf("GUEST-INIT-READY");
        TimeSpan? end = session.TimeOf("BED-LGUEST-EXIT");
        string timing = up is { } u && ready is { } r && end is { } e
            ? string.Create(CultureInfo.InvariantCulture,
                $"timing: L1 up {u.TotalSeconds:F1} s, lguest start to GUEST-INIT-READY {(r - u).TotalSeconds:F1} s, to lguest's exit {(e - u).TotalSeconds:F1} s, bed {_run.Elapsed.TotalSeconds:F1} s")
            : $"timing: incomplete run, bed {_run.Elapsed.TotalSeconds:F1} s";
        TestContext.Progress.WriteLine(timing);
        TestContext.Out.WriteLine(timing);
    }

    [OneTimeTearDown]
    public void RemoveImages() => _folder?.Dispose();

    [Test]
    public void The_guest_ran_the_scenario_powered_off_and_lguest_exited_with_0()
    {
        Assert.Multiple(() =>
        {
            Assert.That(_run.CountLines("GUEST-INIT-READY"), Is.EqualTo(1), _run.ToString());
            Assert.That(_run.Console, Does.Contain("GUEST-SCENARIO-EXIT 0"), _run.ToString());
            Assert.That(_run.Console, Does.Contain("BED-LGUEST-EXIT 0"), _run.ToString());
            Assert.That(_run.ExitStatus, Is.Zero, _run.ToString());
        });
    }

    [Test]
    public void Virtio_pci_binds_the_console_both_disks_and_the_rng_and_their_device_nodes_exist()
    {
        // virtio 1.2 §4.1.2.1: device ID 0x1040 + the virtio device type (console 3, block 2, rng 4), slot order = option order.
        var functions = PciFunction().Matches(_run.Console)
            .Where(m => m.Groups[2].Value == "1af4")
            .Select(m => (Device: m.Groups[3].Value, Driver: m.Groups[4].Value))
            .ToList();
        Assert.Multiple(() =>
        {
            Assert.That(functions.Select(f => f.Device), Is.EqualTo(new[] { "1043", "1042", "1042", "1044" }), _run.ToString());
            Assert.That(functions.Select(f => f.Driver), Is.All.EqualTo("virtio-pci"), _run.ToString());
            Assert.That(_run.Console, Does.Match(@"(?m)^GUEST-DRIVER virtio_console virtio\d+ $"), _run.ToString());
            Assert.That(_run.Console, Does.Match(@"(?m)^GUEST-DRIVER virtio_blk virtio\d+ virtio\d+ $"), _run.ToString());
            Assert.That(_run.Console, Does.Match(@"(?m)^GUEST-DRIVER virtio_rng virtio\d+ $"), _run.ToString());
            Assert.That(_run.Console, Does.Contain("GUEST-DEV hvc0 c\n"), _run.ToString());
            Assert.That(_run.Console, Does.Contain("GUEST-DEV vda b\n"), _run.ToString());
            Assert.That(_run.Console, Does.Contain("GUEST-DEV vdb b\n"), _run.ToString());
            Assert.That(_run.Console, Does.Contain("GUEST-DEV hwrng c\n"), _run.ToString());
        });
    }

    [Test]
    public void Text_the_guest_writes_to_hvc0_reaches_the_host_and_a_line_the_host_types_is_read_from_hvc0()
    {
        Assert.Multiple(() =>
        {
            // The scenario's source says $((6 * 7)) and tr: only the guest's shell makes this line.
            Assert.That(_run.Console, Does.Contain("GUEST-HVC0-OUT 42 LGUEST\n"), _run.ToString());
            Assert.That(_run.Console, Does.Contain($"GUEST-HVC0-IN [{HostLine}] {HostLine.Length}\n"), _run.ToString());
        });
    }

    [Test]
    public void A_pattern_the_guest_writes_to_vda_with_dd_and_sync_is_in_the_image_after_poweroff_and_nothing_else_changed()
    {
        byte[] expected = (byte[])_disk.Clone();
        Pattern().CopyTo(expected, PatternOffset);
        Assert.Multiple(() =>
        {
            Assert.That(_run.Console, Does.Contain($"GUEST-VDA sectors={DiskBytes / 512} ro=0 serial=vda.img\n"), _run.ToString());
            Assert.That(_run.Console, Does.Contain($"GUEST-VDA before-sha256={Sha256(_disk)}\n"), "the guest read the image as made\n" + _run);
            Assert.That(_run.Console, Does.Contain("GUEST-VDA dd-write-status=0\n"), _run.ToString());
            Assert.That(_run.Console, Does.Contain("GUEST-VDA sync-status=0\n"), _run.ToString());
            Assert.That(_run.Console, Does.Contain($"GUEST-VDA readback-sha256={Sha256(Pattern())}\n"), "the guest's direct read-back\n" + _run);
            Assert.That(_run.Console, Does.Contain($"BED-IMAGE vda.img sha256={Sha256(expected)} bytes={DiskBytes}\n"),
                "the image after lguest exited: the pattern at 3 MiB, the rest as made\n" + _run);
        });
    }

    [Test]
    public void A_read_only_disk_refuses_the_guest_s_writes_and_its_image_is_unchanged()
    {
        string original = Sha256(_readOnlyDisk);
        Assert.Multiple(() =>
        {
            Assert.That(_run.Console, Does.Contain($"GUEST-VDB sectors={ReadOnlyDiskBytes / 512} ro=1\n"), _run.ToString());
            Assert.That(_run.Console, Does.Contain($"GUEST-VDB before-sha256={original}\n"), _run.ToString());
            Assert.That(_run.Console, Does.Match(@"(?m)^GUEST-VDB dd-write-status=[1-9]\d* \S"), "dd fails, with a reason\n" + _run);
            Assert.That(_run.Console, Does.Match(@"(?m)^GUEST-VDB setrw-dd-write-status=[1-9]\d* \S"), "still after blockdev --setrw\n" + _run);
            Assert.That(_run.Console, Does.Contain($"GUEST-VDB after-sha256={original}\n"), _run.ToString());
            Assert.That(_run.Console, Does.Contain($"BED-IMAGE vdb.img sha256={original} bytes={ReadOnlyDiskBytes}\n"), _run.ToString());
        });
        foreach (string line in _run.Console.Split('\n').Where(l => l.Contains("dd-write-status", StringComparison.Ordinal)))
            TestContext.Out.WriteLine(line);
    }

    [Test]
    public void Every_virtio_device_interrupts_through_msix_with_a_configuration_vector_and_queue_vectors()
    {
        var lines = InterruptLine().Matches(_run.Console)
            .Select(m => (Count: m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Sum(long.Parse), Chip: m.Groups[2].Value, Names: m.Groups[3].Value))
            .ToList();
        foreach (var line in lines)
            TestContext.Out.WriteLine($"{line.Names}: {line.Count} on {line.Chip}");
        Assert.Multiple(() =>
        {
            Assert.That(lines, Is.Not.Empty, _run.ToString());
            Assert.That(lines.Select(l => l.Chip), Is.All.StartWith("PCI-MSI"), "no virtio device left on INTx\n" + _run);
            for (int device = 0; device < 4; device++)
            {
                string prefix = $"virtio{device}-";
                Assert.That(lines.Select(l => l.Names), Has.Some.EqualTo(prefix + "config"), _run.ToString());
                Assert.That(lines.Where(l => l.Names.StartsWith(prefix, StringComparison.Ordinal) && l.Names != prefix + "config"), Is.Not.Empty,
                    $"{prefix}: a vector for its queues\n{_run}");
            }
            // vda (virtio1) read 8 MiB, wrote 1 MiB and read it back: its queue vector took those completions.
            Assert.That(lines.Where(l => l.Names.StartsWith("virtio1-", StringComparison.Ordinal) && l.Names != "virtio1-config").Sum(l => l.Count),
                Is.GreaterThan(0), _run.ToString());
        });
    }

    [Test]
    public void The_guest_reads_1_MiB_of_random_bytes_from_hwrng()
    {
        Match rng = Rng().Match(_run.Console);
        Assert.That(rng.Success, Is.True, _run.ToString());
        long Field(int group) => long.Parse(rng.Groups[group].Value, CultureInfo.InvariantCulture);
        long zeros = RandomBytes - Field(3);
        Assert.Multiple(() =>
        {
            Assert.That(Field(1), Is.Zero, "dd's status");
            Assert.That(Field(2), Is.EqualTo(RandomBytes), "bytes read");
            // Uniform bytes: 4096 zeros expected, standard deviation 64; 1000 either side is beyond chance.
            Assert.That(zeros, Is.InRange(3096, 5096), "zero bytes");
            Assert.That(Field(4), Is.GreaterThanOrEqualTo(RandomBytes), "gzip cannot shrink random bytes");
            Assert.That(Field(5), Is.EqualTo(256), "distinct values in the first 64 KiB");
            Assert.That(_run.Console, Does.Match(@"(?m)^GUEST-RNG current=virtio_rng\.\d+$"), _run.ToString());
        });
        TestContext.Out.WriteLine($"hwrng: 1 MiB in {rng.Groups[6].Value} s");
    }
}
