using System.Diagnostics;
using Lguest.Fuzz;
using Lguest.Fuzz.Targets;
using Lguest.Tests.Support;

namespace Lguest.Tests.Fuzzing;

/// <summary>
/// Every committed fuzz corpus (fuzz/corpus/TARGET, minimized by fuzz/run.sh) replayed through the entry point
/// libFuzzer used, <see cref="FuzzTarget.Execute"/>: only the project's own exceptions may come out of a
/// target, and its invariants hold, for every input the fuzzer kept. Seconds for all of them.
/// </summary>
public class CorpusReplayTests
{
    // Seeds that are refusals on purpose, and a word their refusal must contain.
    private static readonly Dictionary<string, string> ExpectedRefusals = new()
    {
        ["loop"] = "loops",
    };

    private static readonly string[] LocalTargets = ["vring", "virtio-pci", "virtio-blk", "virtio-fs", "virtio-vsock", "kernel-loader", "lguest-emulation", "snapshot", "snapshot-devices", "api-request"];

    [TestCaseSource(nameof(LocalTargets))]
    public void Every_corpus_input_runs_through_the_target_without_a_crash(string name) =>
        WithTarget(name, target => Replay(target, name));

    [Test]
    public void Every_virtio_net_transmit_corpus_input_runs_through_the_target_without_a_crash() =>
        WithTarget("virtio-net-tx", target => Replay(target, "virtio-net-tx"));

    [TestCaseSource(nameof(LocalTargets))]
    public void Every_seed_reaches_the_path_it_was_made_for(string name)
    {
        WithTarget(name, target =>
        {
            foreach ((string seed, byte[] bytes) in target.Seeds())
            {
                string outcome = target.Explain(bytes);
                if (ExpectedRefusals.TryGetValue(seed, out string? why))
                    Assert.That(outcome, Does.StartWith("refused: BadDriverException").And.Contain(why), seed);
                else
                    Assert.That(outcome, Is.EqualTo("accepted"), seed);
            }
        });
    }

    [Test]
    public void Every_target_has_a_committed_corpus()
    {
        foreach (string name in FuzzTargets.Names)
            Assert.That(CorpusFiles(name), Is.Not.Empty, $"fuzz/corpus/{name}");
    }

    [Test]
    public void An_unknown_target_name_is_refused_with_the_known_ones()
    {
        Assert.That(() => FuzzTargets.Create("nonsense"), Throws.ArgumentException.With.Message.Contains("vring"));
    }

    /// <summary>
    /// Inputs that once crashed a target (fuzz/regressions/TARGET/WHAT), kept under the name of what they did:
    /// each must now run clean through its target.
    /// </summary>
    [TestCaseSource(nameof(Regressions))]
    public void A_former_crash_runs_clean(string name, string file) =>
        WithTarget(name, target => Assert.That(() => target.Execute(File.ReadAllBytes(file)), Throws.Nothing));

    public static IEnumerable<TestCaseData> Regressions()
    {
        string? root = RepositoryFolder("fuzz", "regressions");
        if (root is null)
            yield break;
        foreach (string folder in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            foreach (string file in Directory.GetFiles(folder).Order(StringComparer.Ordinal))
                yield return new TestCaseData(Path.GetFileName(folder), file).SetArgDisplayNames(Path.GetFileName(folder), Path.GetFileName(file));
        }
    }

    private static void Replay(FuzzTarget target, string name)
    {
        string[] files = CorpusFiles(name);
        Assert.That(files, Is.Not.Empty, $"fuzz/corpus/{name} is missing or empty");
        var clock = Stopwatch.StartNew();
        foreach (string file in files)
        {
            byte[] input = File.ReadAllBytes(file);
            Assert.That(input, Has.Length.LessThanOrEqualTo(target.MaxInputLength), Path.GetFileName(file));
            try
            {
                target.Execute(input);
            }
            catch (Exception e)
            {
                Assert.Fail($"fuzz/corpus/{name}/{Path.GetFileName(file)} crashed the target: {e}");
            }
        }
        TestContext.Out.WriteLine($"{name}: {files.Length} inputs replayed in {clock.ElapsedMilliseconds} ms");
    }

    private static string[] CorpusFiles(string name) =>
        RepositoryFolder("fuzz", "corpus", name) is { } corpus ? Directory.GetFiles(corpus).Order(StringComparer.Ordinal).ToArray() : [];

    /// <summary>A folder of the clone the tests were built in (found from the output folder up), or null.</summary>
    private static string? RepositoryFolder(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lguest.NET.sln")))
            {
                string folder = Path.Combine([dir.FullName, .. parts]);
                return Directory.Exists(folder) ? folder : null;
            }
        }
        return null;
    }

    /// <summary>
    /// Creates the target and runs <paramref name="body"/> with it; the transmit target writes its frames to a
    /// real tap, up, in a network namespace of the test's own.
    /// </summary>
    private static void WithTarget(string name, Action<FuzzTarget> body)
    {
        if (name != "virtio-net-tx")
        {
            using var target = (IDisposable)FuzzTargets.Create(name);
            body((FuzzTarget)target);
            return;
        }
        using NetworkNamespace ns = NetworkNamespace.CreateOrIgnore();
        using VirtioNetTransmitTarget net = ns.Run(VirtioNetTransmitTarget.Create);
        ns.Ip("link", "set", "dev", net.TapName, "up");
        body(net);
    }
}
