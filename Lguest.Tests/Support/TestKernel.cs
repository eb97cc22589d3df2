using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Lguest.Boot;

namespace Lguest.Tests.Support;

/// <summary>
/// Real Debian kernels for tests, from the shared cache (<c>${LGUEST_CACHE:-~/.cache/lguest}</c>, never the
/// clone), as <c>Lguest.Tests/Guests/kernels.sh</c> provides them: the bzImage fetched with apt-get download
/// and unpacked with dpkg-deb, and the ELF vmlinux it extracts next to it. When the script cannot run
/// (offline, no lz4 tool) the newest kernel already unpacked in the cache is used, and its vmlinux is
/// extracted here, to the same place. A test that asks for a kernel that cannot be had is ignored with the reason.
/// </summary>
internal static class TestKernel
{
    private static readonly Lazy<(string? Path, string? Release, string? Vmlinux, string Reason)> s_cloud = new(FindCloudKernel);
    private static readonly Lazy<(string? Path, string Reason)> s_vmlinux = new(FindCloudVmlinux);

    /// <summary>The cache folder shared by the test scripts.</summary>
    public static string Cache =>
        Environment.GetEnvironmentVariable("LGUEST_CACHE") is { Length: > 0 } cache
            ? cache
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "lguest");

    /// <summary>The Debian cloud kernel's bzImage (vmlinuz); ignores the test when it cannot be had.</summary>
    public static string CloudBzImage => s_cloud.Value.Path ?? Ignore(s_cloud.Value.Reason);

    /// <summary>The cloud kernel's release (uname -r), e.g. 6.1.0-56-cloud-amd64.</summary>
    public static string CloudRelease => s_cloud.Value.Release ?? Ignore(s_cloud.Value.Reason);

    /// <summary>The ELF vmlinux decompressed from the cloud bzImage's payload, next to the bzImage in the cache.</summary>
    public static string CloudVmlinux => s_vmlinux.Value.Path ?? Ignore(s_vmlinux.Value.Reason);

    /// <summary>The compression format a payload's first bytes name (arch/x86/boot/compressed: one of the kernel's decompressors).</summary>
    public static string PayloadFormat(ReadOnlySpan<byte> payload) => payload switch
    {
        [0x02, 0x21, 0x4C, 0x18, ..] => "lz4-legacy",
        [0x1F, 0x8B, ..] => "gzip",
        [0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0x00, ..] => "xz",
        [0x28, 0xB5, 0x2F, 0xFD, ..] => "zstd",
        [(byte)'B', (byte)'Z', (byte)'h', ..] => "bzip2",
        [0x89, (byte)'L', (byte)'Z', (byte)'O', ..] => "lzo",
        [0x5D, 0x00, 0x00, ..] => "lzma",
        _ => "unknown",
    };

    /// <summary>The compressed payload of a bzImage, located by payload_offset and payload_length.</summary>
    public static byte[] ReadPayload(string bzImage)
    {
        byte[] image = File.ReadAllBytes(bzImage);
        SetupHeader h = BzImageLoader.ReadHeader(image);
        int setupSize = ((h.SetupSects == 0 ? 4 : h.SetupSects) + 1) * 512;
        return image.AsSpan(setupSize + (int)h.PayloadOffset, (int)h.PayloadLength).ToArray();
    }

    private static string Ignore(string reason)
    {
        Assert.Ignore(reason);
        return ""; // not reached: Assert.Ignore throws
    }

    private static (string?, string?, string?, string) FindCloudKernel()
    {
        string why;
        string? script = FindRepositoryFile(Path.Combine("Lguest.Tests", "Guests", "kernels.sh"));
        if (script is not null)
        {
            // kernels.sh prints shell assignments; let bash evaluate them and print the ones needed.
            var (exit, output, error) = Run("bash", "-c",
                "eval \"$(bash \"$0\")\" && printf '%s\\n%s\\n%s\\n' \"$LGUEST_CLOUD_VMLINUZ\" \"$LGUEST_CLOUD_RELEASE\" \"${LGUEST_CLOUD_VMLINUX:-}\"", script);
            string[] lines = output.Split('\n');
            if (exit == 0 && lines.Length >= 3 && File.Exists(lines[0]))
                return (lines[0], lines[1], lines[2].Length > 0 ? lines[2] : null, "");
            why = $"kernels.sh failed ({exit}): {Tail(error)}";
        }
        else
        {
            why = "Lguest.Tests/Guests/kernels.sh not found";
        }
        // Offline or without apt: use a cloud kernel already unpacked in the cache.
        string kernels = Path.Combine(Cache, "kernels");
        if (Directory.Exists(kernels))
        {
            var found = Directory.EnumerateDirectories(kernels, "linux-image-*-cloud-amd64")
                .Select(dir => (Dir: dir, Release: Path.GetFileName(dir)["linux-image-".Length..]))
                .Select(k => (k.Release, Path: Path.Combine(k.Dir, "boot", "vmlinuz-" + k.Release)))
                .Where(k => File.Exists(k.Path))
                .OrderByDescending(k => k.Release, StringComparer.Ordinal)
                .FirstOrDefault();
            if (found.Path is not null)
                return (found.Path, found.Release, null, "");
        }
        return (null, null, null, $"no Debian cloud kernel: {why}");
    }

    private static (string?, string) FindCloudVmlinux()
    {
        var (bzImage, release, vmlinux, reason) = s_cloud.Value;
        if (bzImage is null || release is null)
            return (null, reason);
        if (vmlinux is not null && File.Exists(vmlinux))
            return (vmlinux, "");
        // Where kernels.sh puts it, so the script and the tests share one copy.
        string target = Path.Combine(Path.GetDirectoryName(bzImage)!, "vmlinux-" + release);
        if (File.Exists(target) && new FileInfo(target).Length > 0)
            return (target, "");
        byte[] payload = ReadPayload(bzImage);
        byte[] elf;
        try
        {
            elf = DecompressPayload(payload);
        }
        catch (InvalidDataException e)
        {
            return (null, $"{bzImage}: {e.Message}");
        }
        // Write then rename, so a parallel run never sees half a file.
        string temporary = $"{target}.{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temporary, elf);
        File.Move(temporary, target, overwrite: true);
        return (target, "");
    }

    /// <summary>
    /// Decompresses a bzImage payload (the stripped vmlinux ELF with the relocation table appended) by
    /// the format its magic names: LZ4 legacy frames (K4os.Compression.LZ4 per block) or gzip.
    /// </summary>
    /// <exception cref="InvalidDataException">Another format, or a corrupt payload.</exception>
    public static byte[] DecompressPayload(byte[] payload)
    {
        string format = PayloadFormat(payload);
        byte[] elf;
        switch (format)
        {
            case "lz4-legacy":
                elf = Lz4LegacyFrames.DecompressKernelPayload(payload);
                break;
            case "gzip":
                using (var gzip = new GZipStream(new MemoryStream(payload), CompressionMode.Decompress))
                using (var buffer = new MemoryStream())
                {
                    gzip.CopyTo(buffer);
                    elf = buffer.ToArray();
                }
                break;
            default:
                throw new InvalidDataException($"payload compressed with {format}, which the test support cannot decompress");
        }
        if (elf.Length < 4 || BinaryPrimitives.ReadUInt32LittleEndian(elf) != 0x464C457F)
            throw new InvalidDataException("the decompressed payload is not an ELF file");
        return elf;
    }

    /// <summary>Walks up from the test binaries to the repository root and returns the file there, if any.</summary>
    public static string? FindRepositoryFile(string relativePath)
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lguest.NET.sln")))
            {
                string path = Path.Combine(dir.FullName, relativePath);
                return File.Exists(path) ? path : null;
            }
        }
        return null;
    }

    private static (int Exit, string Output, string Error) Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
            start.ArgumentList.Add(a);
        try
        {
            using Process process = Process.Start(start)!;
            var error = new StringBuilder();
            process.ErrorDataReceived += (_, e) => { lock (error) error.AppendLine(e.Data); };
            process.BeginErrorReadLine();
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            lock (error)
                return (process.ExitCode, output, error.ToString());
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, "", e.Message);
        }
    }

    private static string Tail(string text)
    {
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return string.Join(" / ", lines.TakeLast(2));
    }
}
