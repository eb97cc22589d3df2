using Lguest.Devices.Interop;

namespace Lguest.Tests.Devices.Fs;

/// <summary>
/// A shared folder holds a host descriptor per node the guest knows, so the device raises RLIMIT_NOFILE to hold
/// both of its tables: a NativeAOT launcher keeps the soft limit it was started with (1,024 in the bed's L1),
/// and a guest that made a tree of 1,000 files met EMFILE there long before the caps (the bench's
/// "create c/f994"). These tests only ever raise the test process's limits.
/// </summary>
public class VirtioFsDescriptorLimitTests
{
    [Test]
    public void The_device_raises_the_soft_limit_to_hold_both_tables()
    {
        (ulong soft, ulong hard) = Limits();
        int inodes = (int)Math.Min(soft + 1000, 1 << 20);
        const int handles = 100;
        using var folder = new Support.TemporaryFolder();
        using var client = new FuseTestClient(folder.Path, o => { o.MaxInodes = inodes; o.MaxHandles = handles; });
        (ulong after, _) = Limits();
        Assert.That(after, Is.GreaterThanOrEqualTo(Math.Min((ulong)inodes + handles, hard)),
            "the soft limit holds both tables, or is the hard limit when that is lower and cannot be raised");
    }

    [Test]
    public void Raise_never_lowers_a_limit()
    {
        (ulong soft, ulong hard) = Limits();
        Assert.That(FileLimit.Raise(1), Is.EqualTo((long)Math.Min(soft, long.MaxValue)));
        Assert.That(Limits(), Is.EqualTo((soft, hard)));
    }

    /// <summary>RLIMIT_NOFILE as /proc/self/limits shows it (read independently of the code under test).</summary>
    private static (ulong Soft, ulong Hard) Limits()
    {
        string line = File.ReadLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        string[] words = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (Parse(words[0]), Parse(words[1]));
    }

    private static ulong Parse(string word) => word == "unlimited" ? ulong.MaxValue : ulong.Parse(word, System.Globalization.CultureInfo.InvariantCulture);
}
