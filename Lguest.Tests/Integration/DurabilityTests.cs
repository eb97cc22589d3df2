using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// Data the guest flushed survives the launcher's death. The probe guest's <c>blk-durability</c> writes
/// numbered sectors in batches with a VIRTIO_BLK_T_FLUSH after each and prints the last number flushed;
/// the test kills the lguest command with SIGKILL at a random moment, then checks on the image that every
/// sector up to the last number printed is there intact (number, pattern and checksum). A write the
/// device has completed is in the host's page cache whatever happens to the process afterwards, so this
/// shows the device completes no write and no flush before the data is in the file.
/// </summary>
[Category("Kvm")]
public partial class DurabilityTests
{
    private const int Trials = 20;
    private const int FirstSector = 1; // durability.c's default: sector 0 is left to the host
    private const int SectorSize = 512;
    private const uint Magic = 0x52554447; // "GDUR", Guests/Probe/durability.c

    [GeneratedRegex(@"^PROBE flushed (\d+)$")]
    private static partial Regex Flushed();

    [Test]
    public void Every_sector_up_to_the_last_flush_reported_survives_a_SIGKILL_at_a_random_moment()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        string probe = GuestPrograms.Probe;
        // tmpfs when there is one: SIGKILL leaves the page cache as it is on any file system, and an
        // fdatasync there costs nothing, so a trial costs the launcher's start and a second of guest time.
        string folder = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        int seed = TestContext.CurrentContext.Random.Next();
        var random = new Random(seed);
        var outcomes = new List<string>();
        var clock = Stopwatch.StartNew();

        for (int trial = 0; trial < Trials; trial++)
        {
            string image = Path.Combine(folder, $"lguest-durability-{Guid.NewGuid():N}.img");
            try
            {
                // 4 MiB, 8191 numbered sectors: more than the guest writes before any kill below.
                File.WriteAllBytes(image, new byte[4 << 20]);
                // A batch of 1 to 64 sectors: one write request of up to 32 KiB, so a kill can fall inside a
                // long pwritev as well as between requests.
                int batch = random.Next(1, 65);
                // Every fourth trial dies at a random time after the start (the guest may not have flushed
                // anything yet); the others after a random number of flushed sectors plus a random delay.
                bool timed = trial % 4 == 0;
                int target = random.Next(1, 1500), delayMs = timed ? random.Next(0, 2500) : random.Next(0, 40);
                int last;
                using (var lguest = LguestProcess.Start("--block=" + image, "--no-reboot", "64", probe,
                    "probe.only=blk-durability", "probe.durability-batch=" + batch.ToString(CultureInfo.InvariantCulture)))
                {
                    if (!timed)
                    {
                        Assert.That(lguest.WaitForLine(l => LastFlushed([l]) >= target), Is.True,
                            $"trial {trial}: the guest never flushed {target} sectors\n{lguest.Stderr}\n{string.Join('\n', lguest.Stdout)}");
                    }
                    Thread.Sleep(delayMs);
                    bool aliveAtKill = !lguest.HasExited;
                    lguest.Kill();
                    last = LastFlushed(lguest.Stdout);
                    Assert.That(aliveAtKill, Is.True,
                        $"trial {trial}: lguest ended before the kill\n{lguest.Stderr}\n{string.Join('\n', lguest.Stdout)}");
                    Assert.That(lguest.Stdout, Has.None.StartsWith("PROBE blk-durability"),
                        $"trial {trial}: the guest stopped writing before the kill\n{string.Join('\n', lguest.Stdout)}");
                }
                byte[] disk = File.ReadAllBytes(image);
                int intact = CountIntact(disk);
                Assert.That(intact, Is.GreaterThanOrEqualTo(last),
                    $"trial {trial} (seed {seed}, batch {batch}): the sector numbered {intact + 1} (sector {FirstSector + intact}) is not intact, yet the guest reported {last} flushed");
                if (!timed)
                    Assert.That(last, Is.GreaterThanOrEqualTo(target), $"trial {trial}: the kill came after {target} flushed sectors");
                outcomes.Add((timed ? $"{delayMs} ms" : $">={target}+{delayMs} ms") + $" b{batch}: {last}/{intact}");
            }
            finally
            {
                File.Delete(image);
            }
        }
        TestContext.Progress.WriteLine(
            $"durability (probe): {Trials} SIGKILL trials in {clock.Elapsed.TotalSeconds:F1} s (seed {seed}); kill point, batch: last flushed reported / numbered sectors intact on the image:");
        TestContext.Progress.WriteLine("  " + string.Join("; ", outcomes));
    }

    [Test]
    public void The_sector_check_refuses_a_sector_with_one_bit_changed_or_the_wrong_number()
    {
        var disk = new byte[(FirstSector + 3) * SectorSize];
        for (uint n = 1; n <= 3; n++)
            WriteSector(disk.AsSpan((int)(FirstSector + n - 1) * SectorSize, SectorSize), n);
        Assert.That(CountIntact(disk), Is.EqualTo(3));

        byte[] flipped = (byte[])disk.Clone();
        flipped[(FirstSector + 1) * SectorSize + 300] ^= 0x10; // inside the pattern of number 2
        byte[] renumbered = (byte[])disk.Clone();
        WriteSector(renumbered.AsSpan((FirstSector + 1) * SectorSize, SectorSize), 3); // number 3 where 2 belongs
        byte[] badSum = (byte[])disk.Clone();
        badSum[(FirstSector + 1) * SectorSize + 8] ^= 1; // the checksum word of number 2
        Assert.Multiple(() =>
        {
            Assert.That(CountIntact(flipped), Is.EqualTo(1));
            Assert.That(CountIntact(renumbered), Is.EqualTo(1));
            Assert.That(CountIntact(badSum), Is.EqualTo(1));
        });
    }

    private static int LastFlushed(IEnumerable<string> lines) =>
        lines.Select(l => Flushed().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
            .DefaultIfEmpty(0).Max();

    /// <summary>How many numbered sectors, from the first on, are intact in a row (the rest may be half-written or empty).</summary>
    private static int CountIntact(byte[] disk)
    {
        int n = 0;
        while ((FirstSector + n + 1) * SectorSize <= disk.Length && IsSector(disk.AsSpan((FirstSector + n) * SectorSize, SectorSize), (uint)(n + 1)))
            n++;
        return n;
    }

    // durability.c's layout: word 0 the magic, word 1 n, word 2 the checksum (n plus words 3-127),
    // word i >= 3 n * 0x9e3779b9 + i * 0x01000193, all little-endian.
    private static uint Word(uint n, int i) => unchecked(n * 0x9e3779b9u + (uint)i * 0x01000193u);

    private static bool IsSector(ReadOnlySpan<byte> sector, uint n)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(sector) != Magic || BinaryPrimitives.ReadUInt32LittleEndian(sector[4..]) != n)
            return false;
        uint sum = n;
        for (int i = 3; i < SectorSize / 4; i++)
        {
            uint word = BinaryPrimitives.ReadUInt32LittleEndian(sector[(4 * i)..]);
            if (word != Word(n, i))
                return false;
            sum = unchecked(sum + word);
        }
        return BinaryPrimitives.ReadUInt32LittleEndian(sector[8..]) == sum;
    }

    private static void WriteSector(Span<byte> sector, uint n)
    {
        uint sum = n;
        for (int i = 3; i < SectorSize / 4; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(sector[(4 * i)..], Word(n, i));
            sum = unchecked(sum + Word(n, i));
        }
        BinaryPrimitives.WriteUInt32LittleEndian(sector, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(sector[4..], n);
        BinaryPrimitives.WriteUInt32LittleEndian(sector[8..], sum);
    }
}
