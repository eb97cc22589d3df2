namespace Lguest.Tests.Cli;

/// <summary>
/// A bad-input row's working folder, also its TMPDIR: a text file, a directory, a kernel no one may read (mode
/// 000) and a read-only disk image (mode 444). Whatever else appears in it during the run was left behind.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed class BadInputFolder : IDisposable
{
    public BadInputFolder()
    {
        Directory.CreateDirectory(Path);
        // Longer than a setup header, so the loader judges it by its magic numbers rather than its size.
        File.WriteAllText(Text, string.Concat(Enumerable.Repeat("this is a text file, not a kernel\n", 40)));
        Directory.CreateDirectory(System.IO.Path.Combine(Path, "a-directory"));
        File.WriteAllBytes(Unreadable, new byte[4096]);
        File.SetUnixFileMode(Unreadable, UnixFileMode.None);
        File.WriteAllBytes(ReadOnly, new byte[1 << 20]);
        File.SetUnixFileMode(ReadOnly, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lguest-bad-input-" + Guid.NewGuid().ToString("N"));

    public string Text => System.IO.Path.Combine(Path, "not-a-kernel.txt");

    public string Unreadable => System.IO.Path.Combine(Path, "unreadable-vmlinux");

    public string ReadOnly => System.IO.Path.Combine(Path, "read-only-disk.img");

    public string Expand(string text) => text
        .Replace("{dir}", Path, StringComparison.Ordinal)
        .Replace("{text}", Text, StringComparison.Ordinal)
        .Replace("{unreadable}", Unreadable, StringComparison.Ordinal)
        .Replace("{read-only}", ReadOnly, StringComparison.Ordinal);

    /// <summary>Every file and folder under the folder, with its size (a file written and truncated shows too).</summary>
    public string[] Listing() =>
        Directory.GetFileSystemEntries(Path, "*", SearchOption.AllDirectories)
            .Select(p => File.Exists(p) ? $"{p} {new FileInfo(p).Length}" : p)
            .Order(StringComparer.Ordinal).ToArray();

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
