using Lguest.Boot;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.Boot;

/// <summary>Files that are not kernels at all: missing, unreadable, empty, truncated, something else.</summary>
internal sealed class KernelFileRefusalTests : LoaderFixture
{
    protected override GuestMemoryLayout Layout => GuestMemoryLayout.WithMmioHole(32 << 20);

    private void AssertRefused(string path, string fragment) =>
        LoaderRefusal.AssertRefused(Memory, new KernelLoadOptions { KernelPath = path }, fragment);

    [Test]
    public void Load_refuses_a_missing_file() =>
        AssertRefused(Path.Combine(Files.Path, "nothing-here"), "no such file");

    [Test]
    public void Load_refuses_a_directory() =>
        AssertRefused(Files.Path, "is a directory");

    [Test]
    public void Load_refuses_an_empty_file() =>
        AssertRefused(Files.Write("empty", []), "is empty");

    [Test]
    public void Load_refuses_a_file_too_short_for_a_header() =>
        AssertRefused(Files.Write("short", new byte[100]), "is truncated or not a kernel: 100 bytes");

    [Test]
    public void Load_refuses_a_bzImage_cut_before_its_header_ends() =>
        AssertRefused(Files.Write("cut", new BzImageBuilder { TruncateTo = 0x204 }.Build()), "is truncated or not a kernel: 516 bytes");

    [Test]
    public void Load_refuses_a_file_that_is_neither_a_bzImage_nor_an_ELF() =>
        AssertRefused(Files.Write("text", System.Text.Encoding.ASCII.GetBytes(new string('#', 4096))),
            "is neither a bzImage (no \"HdrS\" at 0x202) nor an ELF vmlinux");

}
