using System.Text;
using Lguest.Tests.Support;

namespace Lguest.Tests.Devices.Fs;

/// <summary>
/// A shared folder with something outside it worth protecting: ROOT/share is what the guest gets,
/// ROOT/outside/canary.txt is what it must never read, change or link to.
/// </summary>
internal sealed class FsFixture : IDisposable
{
    public const string CanaryText = "the canary outside the share\n";

    private readonly TemporaryFolder _root = new();

    public FsFixture()
    {
        Directory.CreateDirectory(Share);
        Directory.CreateDirectory(Outside);
        File.WriteAllText(Canary, CanaryText);
    }

    public string Share => Path.Combine(_root.Path, "share");

    public string Outside => Path.Combine(_root.Path, "outside");

    public string Canary => Path.Combine(Outside, "canary.txt");

    public string InShare(string name) => Path.Combine(Share, name);

    /// <summary>The canary is as it was: same bytes, one link, nothing new beside it.</summary>
    public void AssertCanaryUntouched()
    {
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(Canary, Encoding.UTF8), Is.EqualTo(CanaryText), "canary contents");
            Assert.That(Directory.GetFileSystemEntries(Outside).Select(Path.GetFileName), Is.EqualTo(new[] { "canary.txt" }), "entries outside");
            Assert.That(LinkCount(Canary), Is.EqualTo(1), "canary link count");
        });
    }

    public static int LinkCount(string path)
    {
        var stat = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%h", path]) { RedirectStandardOutput = true };
        using var process = System.Diagnostics.Process.Start(stat)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return int.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose() => _root.Dispose();
}
