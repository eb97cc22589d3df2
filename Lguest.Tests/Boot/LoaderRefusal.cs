using Lguest.Boot;
using Lguest.Memory;

namespace Lguest.Tests.Boot;

/// <summary>Shared checks for refusals: the loader's own exception, naming the file, and guest memory left untouched.</summary>
internal static class LoaderRefusal
{
    /// <summary>Asserts that loading throws a <see cref="KernelImageException"/> for <paramref name="blamed"/> whose problem contains <paramref name="fragment"/>, and that memory stayed zero.</summary>
    public static KernelImageException AssertRefused(GuestMemory memory, KernelLoadOptions options, string fragment, string? blamed = null)
    {
        var e = Assert.Throws<KernelImageException>(() => KernelLoader.Load(memory, options))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Problem, Does.Contain(fragment));
            Assert.That(e.FilePath, Is.EqualTo(blamed ?? options.KernelPath));
            Assert.That(e.Message, Does.StartWith((blamed ?? options.KernelPath) + ": "));
            Assert.That(e.Message, Does.Not.Contain('\n'));
            Assert.That(IsAllZero(memory), Is.True, "guest memory was written before the refusal");
        });
        return e;
    }

    /// <summary>Whether every byte of guest RAM is zero.</summary>
    public static bool IsAllZero(GuestMemory memory)
    {
        foreach (GuestMemoryRegion r in memory.Layout.Regions)
        {
            for (ulong at = 0; at < r.Size; at += 1 << 30)
            {
                int chunk = (int)Math.Min(r.Size - at, 1 << 30);
                if (memory.GetSpan(r.Start.Offset(at), chunk).ContainsAnyExcept((byte)0))
                    return false;
            }
        }
        return true;
    }
}
