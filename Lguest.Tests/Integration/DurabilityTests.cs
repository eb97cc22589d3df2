using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

// MD5 here is the guest's checksum of its blocks (busybox md5sum), not a security measure.
#pragma warning disable CA5351

namespace Lguest.Tests.Integration;

/// <summary>
/// Data the guest flushed survives the launcher's death. A guest writes numbered blocks in batches with a
/// VIRTIO_BLK_T_FLUSH after each and prints the last number flushed; the test kills the lguest command with
/// SIGKILL at a random moment, then checks on the image that every block up to the last number printed is
/// there intact (number, pattern and checksum). A write the device has completed is in the host's page
/// cache whatever happens to the process afterwards, so this shows the device completes no write and no
/// flush before the data is in the file. The guests: the probe's <c>blk-durability</c> on this host's KVM
/// (cheap, so most trials), and Linux in the nested bed (scenarios/durability: the page cache, the block
/// layer and virtio_blk issuing the writes and flushes, a few trials in one L1 boot).
/// </summary>
public partial class DurabilityTests
{
    private const int Trials = 20;
    private const int LinuxTrials = 4;
    private const int LinuxBlockSize = 4096;
    private const int FirstSector = 1; // durability.c's default: sector 0 is left to the host
    private const int SectorSize = 512;
    private const uint Magic = 0x52554447; // "GDUR", Guests/Probe/durability.c

    [GeneratedRegex(@"^PROBE flushed (\d+)$")]
    private static partial Regex Flushed();

    [GeneratedRegex(@"^BED-DURABILITY-TRIAL (\d+) kill (\S+) batch (\d+) flushed (\d+) md5 ([0-9a-f]{32}) numbered (\d+) cache (\S+)$", RegexOptions.Multiline)]
    private static partial Regex LinuxTrial();

    [GeneratedRegex(@"^after-(\d+)\+")]
    private static partial Regex AfterTarget();

    [Test]
    [Category("Kvm")]
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
    [Category("Linux")]
    public void Every_block_Linux_flushed_survives_a_SIGKILL_of_lguest_at_a_random_moment()
    {
        NestedBed bed = NestedBed.OpenOrIgnore();
        int seed = TestContext.CurrentContext.Random.Next(1, 32768);
        LauncherBinary launcher = LauncherBinary.Current;
        TestContext.Out.WriteLine($"launcher: {launcher.Description}");
        // Every trial boots Linux in L2 afresh: about half a minute each on a quiet host, several when it is busy.
        NestedBedRun run = bed.Run($"LGUEST={NestedBed.Quote(launcher.ShellCommand)} Lguest.Tests/Guests/durability-l1.sh {LinuxTrials} {seed}",
            TimeSpan.FromMinutes(60));

        MatchCollection trials = LinuxTrial().Matches(run.Console.Replace("\r", "", StringComparison.Ordinal));
        Assert.That(run.Console, Does.Contain($"BED-DURABILITY-DONE {LinuxTrials}"), run.ToString());
        Assert.That(run.Console, Does.Not.Contain(" error "), run.ToString());
        Assert.That(trials, Has.Count.EqualTo(LinuxTrials), run.ToString());
        var outcomes = new List<string>();
        Assert.Multiple(() =>
        {
            foreach (Match trial in trials)
            {
                string when = trial.Groups[2].Value;
                int flushed = int.Parse(trial.Groups[4].Value, CultureInfo.InvariantCulture);
                int numbered = int.Parse(trial.Groups[6].Value, CultureInfo.InvariantCulture);
                // The blocks 1..flushed as the image holds them, against the same blocks made here.
                Assert.That(trial.Groups[5].Value, Is.EqualTo(LinuxBlocksMd5(flushed)),
                    $"trial {trial.Groups[1].Value} (seed {seed}): blocks 1-{flushed} differ on the image, yet Linux reported them flushed\n{run}");
                Assert.That(numbered, Is.GreaterThanOrEqualTo(flushed), $"trial {trial.Groups[1].Value}: blocks in place");
                // "write back": the kernel sends VIRTIO_BLK_T_FLUSH on fsync (write through would send none).
                Assert.That(trial.Groups[7].Value, Is.EqualTo("write-back"), $"trial {trial.Groups[1].Value}: the disk's write cache as Linux sees it");
                if (AfterTarget().Match(when) is { Success: true } target)
                    Assert.That(flushed, Is.GreaterThanOrEqualTo(int.Parse(target.Groups[1].Value, CultureInfo.InvariantCulture)), $"trial {trial.Groups[1].Value}: {when}");
                outcomes.Add($"{when} b{trial.Groups[3].Value}: {flushed}/{numbered}");
            }
        });
        TestContext.Progress.WriteLine(
            $"durability (Linux in the bed): {LinuxTrials} SIGKILL trials in {run.Elapsed.TotalSeconds:F0} s (seed {seed}); kill point, batch: last flushed reported / numbered blocks in place, all flushed ones byte for byte:");
        TestContext.Progress.WriteLine("  " + string.Join("; ", outcomes));
    }

    [Test]
    public void The_Linux_blocks_made_here_are_the_ones_the_scenario_writes()
    {
        // scenarios/durability's block 1, as its `block 1 1` prints it (checked against busybox and dash with mawk).
        byte[] block = LinuxBlock(1);
        string text = Encoding.ASCII.GetString(block);
        Assert.Multiple(() =>
        {
            Assert.That(block, Has.Length.EqualTo(LinuxBlockSize));
            Assert.That(text, Does.StartWith("LGUEST-DURABILITY 0000000001 md5 d21680d444563d47dc0c412b9c50cd7e\n0000000001 00 fghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRS\n"));
            Assert.That(text, Does.EndWith("\n0000000001 61 YZabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL\n"));
            Assert.That(LinuxBlocksMd5(3), Is.EqualTo(Convert.ToHexStringLower(MD5.HashData([.. LinuxBlock(1), .. LinuxBlock(2), .. LinuxBlock(3)]))));
        });
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

    /// <summary>
    /// Block <paramref name="n"/> as scenarios/durability writes it: a 66-byte header with n and the MD5 of
    /// the 62 lines that follow, each "n k " and 50 characters of A-Za-z0-9 (twice over) from (n*31 + k*7) % 62.
    /// </summary>
    private static byte[] LinuxBlock(int n)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        var body = new StringBuilder();
        for (int k = 0; k < 62; k++)
        {
            int start = (int)(((long)n * 31 + k * 7) % 62);
            body.Append(CultureInfo.InvariantCulture, $"{n:D10} {k:D2} {(Alphabet + Alphabet).AsSpan(start, 50)}\n");
        }
        byte[] bodyBytes = Encoding.ASCII.GetBytes(body.ToString());
        string header = $"LGUEST-DURABILITY {n:D10} md5 {Convert.ToHexStringLower(MD5.HashData(bodyBytes))}\n";
        return [.. Encoding.ASCII.GetBytes(header), .. bodyBytes];
    }

    private static string LinuxBlocksMd5(int count)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        for (int n = 1; n <= count; n++)
            md5.AppendData(LinuxBlock(n));
        return Convert.ToHexStringLower(md5.GetHashAndReset());
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
