using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Lguest.Tests.Support;

// MD5 here is the guest's and the host's checksum of files (busybox md5sum), not a security measure.
#pragma warning disable CA5351

namespace Lguest.Tests.Integration;

/// <summary>
/// Issue 17's shared folders as the stock Debian cloud kernel's virtiofs driver uses them, with lguest as the
/// L2 VMM in the nested bed. One bed run (Lguest.Tests/Guests/virtiofs-l1.sh, scenarios/virtiofs) boots the guest
/// twice: once to build a tree of 1,150 files and directories on a read-write share, change it, read what
/// the host changed, try to escape (while the host swaps a directory for a link in a loop), try every write
/// path on a read-only share and write through a shared mmap; once more to write and fsync files until lguest
/// is killed with SIGKILL. Each test checks one part of that run; the tree is checked against the contents
/// made here from the scenario's rules, byte for byte, as the host and as the guest see it.
/// </summary>
[Category("Linux")]
public partial class VirtioFsBedTests
{
    private const int Directories = 50;
    private const int FilesPerDirectory = 20;
    private const string Dots = "....................................................................";

    private static readonly string[] EscapeAttempts =
    [
        "symlink-root", "symlink-root-ls", "dotdot", "dotdot-ls", "host-link-rel", "host-link-abs", "host-link-file",
        "write-through-link", "create-through-link", "hard-link", "hard-link-through", "rename-out", "rename-out-abs", "rename-in",
    ];

    private static readonly string[] ReadOnlyOperations =
        ["create", "append", "truncate", "mkdir", "rmdir", "unlink", "rename", "link", "symlink", "chmod", "chown", "touch", "mkfifo"];

    private TemporaryFolder? _folder;
    private NestedBedRun _run = null!;
    private string _console = "";

    [GeneratedRegex(@"^(GUEST|BED)-FS-TREE entries (\d+) files (\d+) manifest ([0-9a-f]{32})$", RegexOptions.Multiline)]
    private static partial Regex Tree();

    [GeneratedRegex(@"^BED-FS-DURABLE kill-after (\d+) last (\d+) intact (\d+)$", RegexOptions.Multiline)]
    private static partial Regex Durable();

    [OneTimeSetUp]
    public void BootOnce()
    {
        NestedBed bed = NestedBed.OpenOrIgnore();
        _folder = new TemporaryFolder();
        // L1 covers /run and /dev/shm with tmpfs of its own: a folder there would not be the same one.
        Assert.That(_folder.Path, Does.Not.StartWith("/run/").And.Not.StartWith("/dev/shm/"), "TMPDIR must be visible inside L1");
        string mmapCheck = BuildMmapCheck(_folder.Path);
        LauncherBinary launcher = LauncherBinary.Current;
        TestContext.Out.WriteLine($"launcher: {launcher.Description}");
        int seed = TestContext.CurrentContext.Random.Next(1, 32768);
        _run = bed.Run($"LGUEST={NestedBed.Quote(launcher.ShellCommand)} LGUEST_FS_MMAP_CHECK={NestedBed.Quote(mmapCheck)} " +
            $"LGUEST_FS_DIRS={Directories} LGUEST_FS_FILES={FilesPerDirectory} Lguest.Tests/Guests/virtiofs-l1.sh {seed}", TimeSpan.FromMinutes(60));
        _console = _run.Console.Replace("\r", "", StringComparison.Ordinal);
        TestContext.Progress.WriteLine($"virtio-fs in the bed: {_run.Elapsed.TotalSeconds:F0} s (seed {seed})");
    }

    [OneTimeTearDown]
    public void Clean() => _folder?.Dispose();

    [Test]
    public void The_run_finished_without_an_error_and_the_main_boot_exited_cleanly()
    {
        Assert.That(_console, Does.Contain("BED-FS-DONE"), _run.ToString());
        Assert.That(_console, Does.Not.Contain("BED-FS-ERROR").And.Not.Contain("GUEST-FS-ERROR"), _run.ToString());
        Assert.That(_console, Does.Contain("GUEST-FS-MOUNTED share").And.Contain("GUEST-FS-MOUNTED ro").And.Contain("GUEST-FS-UNMOUNTED"), _run.ToString());
        Assert.That(_console, Does.Contain("GUEST-SCENARIO-EXIT 0").And.Contain("BED-FS-EXIT main 0"), _run.ToString());
    }

    [Test]
    public void The_tree_the_guest_built_and_changed_is_on_the_host_byte_for_byte()
    {
        (string manifest, int entries, int files) = ExpectedTree();
        Assert.That(entries, Is.GreaterThanOrEqualTo(1000), "the test's own tree");
        var trees = Tree().Matches(_console).ToDictionary(m => m.Groups[1].Value, m => (Entries: int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
            Files: int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture), Manifest: m.Groups[4].Value));
        Assert.That(trees.Keys, Is.EquivalentTo(new[] { "GUEST", "BED" }), _run.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(trees["BED"], Is.EqualTo((entries, files, Md5(manifest))), "the host's folder against the contents made here");
            Assert.That(trees["GUEST"], Is.EqualTo(trees["BED"]), "the guest's view against the host's");
        });
    }

    [Test]
    public void What_the_host_writes_the_guest_reads()
    {
        string note = Line("BED-FS-HOST-NOTE ");
        Assert.That(note, Does.StartWith("written by the host "));
        Assert.That(Line("GUEST-FS-HOST-NOTE "), Is.EqualTo(note));
        string changed = Md5("rewritten by the host, longer than before\n");
        Assert.That((Line("BED-FS-HOST-CHANGED "), Line("GUEST-FS-HOST-CHANGED ")), Is.EqualTo((changed, changed)));
    }

    [Test]
    public void Every_escape_attempt_fails_and_the_canary_outside_is_untouched()
    {
        Assert.Multiple(() =>
        {
            foreach (string attempt in EscapeAttempts)
                Assert.That(_console, Does.Contain($"GUEST-FS-ESCAPE {attempt} blocked\n"), attempt);
            Assert.That(_console, Does.Not.Contain("REACHED"));
            Assert.That(Line("GUEST-FS-SECRET "), Is.EqualTo("unseen"), "the canary's text never reached the guest");
            Assert.That(Line("BED-FS-CANARY "), Is.EqualTo("intact"), "contents, alone in its folder, one link");
        });
    }

    [Test]
    public void A_directory_swapped_for_a_link_by_the_host_while_the_guest_works_in_it_lets_nothing_out()
    {
        int swaps = int.Parse(Line("BED-FS-SWAPS "), CultureInfo.InvariantCulture);
        int rounds = int.Parse(Line("GUEST-FS-SWAP-DONE "), CultureInfo.InvariantCulture);
        TestContext.Out.WriteLine($"{swaps} swaps by the host during {rounds} rounds of the guest");
        Assert.That(swaps, Is.Positive, "the host swapped at least once");
        Assert.That(rounds, Is.GreaterThanOrEqualTo(20), "the guest's rounds meanwhile");
        Assert.That(Line("BED-FS-CANARY "), Is.EqualTo("intact"));
    }

    [Test]
    public void The_read_only_share_answers_EROFS_on_every_write_path_and_serves_reads()
    {
        Assert.Multiple(() =>
        {
            foreach (string operation in ReadOnlyOperations)
                Assert.That(_console, Does.Contain($"GUEST-FS-RO {operation} erofs\n"), operation);
            Assert.That(_console, Does.Not.Contain("FAILED"));
            Assert.That(Line("GUEST-FS-RO-READ "), Is.EqualTo(Md5("read-only contents\n")));
            Assert.That(Line("BED-FS-RO-HOST "), Is.EqualTo(Line("BED-FS-RO-EXPECTED ")), "the read-only folder as it was");
        });
    }

    [Test]
    public void A_file_written_through_a_shared_mmap_is_on_the_host()
    {
        byte[] pattern = new byte[65536];
        for (int i = 0; i < pattern.Length; i++)
            pattern[i] = (byte)(i * 7 + 13);
        string expected = Convert.ToHexStringLower(MD5.HashData(pattern));
        Assert.That(Line("GUEST-FS-MMAP "), Is.EqualTo("ok " + expected));
        Assert.That(Line("BED-FS-MMAP "), Is.EqualTo(expected));
    }

    [Test]
    public void Every_file_the_guest_fsynced_survives_a_SIGKILL_of_lguest()
    {
        Match durable = Durable().Match(_console);
        Assert.That(durable.Success, Is.True, _run.ToString());
        int target = int.Parse(durable.Groups[1].Value, CultureInfo.InvariantCulture);
        int last = int.Parse(durable.Groups[2].Value, CultureInfo.InvariantCulture);
        int intact = int.Parse(durable.Groups[3].Value, CultureInfo.InvariantCulture);
        TestContext.Out.WriteLine($"killed after {target} files reported: {last} reported fsync'd, {intact} intact");
        Assert.That(last, Is.GreaterThanOrEqualTo(target));
        Assert.That(intact, Is.EqualTo(last));
        Assert.That(_console, Does.Contain("BED-FS-EXIT durability 137"), "lguest died of SIGKILL");
    }

    /// <summary>The value after <paramref name="prefix"/> on the one line that starts with it.</summary>
    private string Line(string prefix)
    {
        string[] lines = _console.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).ToArray();
        Assert.That(lines, Has.Length.EqualTo(1), $"{prefix.Trim()} lines\n{_run}");
        return lines[0][prefix.Length..];
    }

    internal static string Md5(string text) => Convert.ToHexStringLower(MD5.HashData(Encoding.ASCII.GetBytes(text)));

    /// <summary>
    /// The manifest of the tree as scenarios/virtiofs builds and changes it, made from its rules: directories,
    /// then files with their MD5, then links, each sorted byte-wise; and how many entries and files it has.
    /// </summary>
    internal static (string Manifest, int Entries, int Files) ExpectedTree()
    {
        var directories = new List<string> { "t" };
        var files = new Dictionary<string, byte[]>();
        string pad = Dots + Dots + Dots + Dots;
        for (int d = 0; d < Directories; d++)
        {
            directories.Add($"t/d{d}");
            directories.Add($"t/d{d}/sub");
            files[$"t/d{d}/sub/leaf"] = Encoding.ASCII.GetBytes($"leaf {d}\n");
            for (int f = 0; f < FilesPerDirectory; f++)
                files[$"t/d{d}/f{f}"] = Encoding.ASCII.GetBytes($"lguest-fs {d} {f} {pad[..((d * 7 + f * 13) % 250)]}\n");
        }
        Rename("t/d1", "t/d1-renamed");
        Rename("t/d2/f3", "t/d3/f3-moved");
        foreach (string name in files.Keys.Where(n => n.StartsWith("t/d4/f", StringComparison.Ordinal)).ToArray())
            files[name] = files[name][..5];
        files["t/d5/f0"] = [.. files["t/d5/f0"], .. new byte[10000 - files["t/d5/f0"].Length]];
        files["t/d8/f2"] = [.. files["t/d8/f2"], .. "appended\n"u8];
        Remove("t/d6");
        files.Remove("t/d7/f1");
        files["t/d9/f0-hard"] = files["t/d9/f0"];
        var links = new[] { "t/d10/link -> ../d9/f0" };

        var manifest = new StringBuilder();
        foreach (string directory in directories.Order(StringComparer.Ordinal))
            manifest.Append(directory).Append('\n');
        foreach (string file in files.Keys.Order(StringComparer.Ordinal))
            manifest.Append(Convert.ToHexStringLower(MD5.HashData(files[file]))).Append("  ").Append(file).Append('\n');
        foreach (string link in links)
            manifest.Append(link).Append('\n');
        return (manifest.ToString(), directories.Count + files.Count + links.Length, files.Count);

        void Rename(string from, string to)
        {
            foreach (string name in files.Keys.Where(n => n == from || n.StartsWith(from + "/", StringComparison.Ordinal)).ToArray())
            {
                files[to + name[from.Length..]] = files[name];
                files.Remove(name);
            }
            for (int i = 0; i < directories.Count; i++)
            {
                if (directories[i] == from || directories[i].StartsWith(from + "/", StringComparison.Ordinal))
                    directories[i] = to + directories[i][from.Length..];
            }
        }

        void Remove(string folder)
        {
            foreach (string name in files.Keys.Where(n => n.StartsWith(folder + "/", StringComparison.Ordinal)).ToArray())
                files.Remove(name);
            directories.RemoveAll(d => d == folder || d.StartsWith(folder + "/", StringComparison.Ordinal));
        }
    }

    /// <summary>mmap-check (Lguest.Tests/Guests/mmap-check.c) built static with this host's gcc, where L1 can read it.</summary>
    private static string BuildMmapCheck(string folder)
    {
        string source = "mmap-check.c";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "Lguest.Tests", "Guests", "mmap-check.c");
            if (File.Exists(candidate))
            {
                source = candidate;
                break;
            }
        }
        string binary = Path.Combine(folder, "mmap-check");
        try
        {
            using var gcc = Process.Start(new ProcessStartInfo("gcc", ["-static", "-O2", "-o", binary, source]) { RedirectStandardError = true })!;
            string errors = gcc.StandardError.ReadToEnd();
            gcc.WaitForExit();
            if (gcc.ExitCode != 0)
                Assert.Ignore($"gcc -static cannot build the guest's mmap check (install gcc and libc6-dev): {errors}");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Ignore("gcc is not installed: it builds the guest's mmap check (apt-get install gcc libc6-dev)");
        }
        return binary;
    }
}

/// <summary>The tree the bed test expects is the one the scenario's shell lines make.</summary>
public class VirtioFsTreeTests
{
    [Test]
    public void The_tree_made_here_is_the_one_scenarios_virtiofs_builds()
    {
        // The scenario's tree lines run by busybox sh and by bash over a local folder gave these figures.
        (string manifest, int entries, int files) = VirtioFsBedTests.ExpectedTree();
        Assert.That((entries, files, VirtioFsBedTests.Md5(manifest)), Is.EqualTo((1129, 1029, "f56f4af28e85bd1f30ee0730d04b3c8f")));
    }
}
