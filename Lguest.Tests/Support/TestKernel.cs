using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Lguest.Boot;

namespace Lguest.Tests.Support;

/// <summary>
/// Real Debian kernels for tests, from the shared cache (<c>${LGUEST_CACHE:-~/.cache/lguest}</c>, never the
/// clone). The bzImage comes from <c>Lguest.Tests/Guests/kernels.sh</c> (which fetches with apt-get
/// download and unpacks with dpkg-deb); the ELF vmlinux is extracted from it once and cached. A test
/// that asks for a kernel that cannot be had is ignored with the reason.
/// </summary>
internal static class TestKernel
{
    private static readonly Lazy<(string? Path, string? Release, string Reason)> s_cloud = new(FindCloudKernel);
    private static readonly Lazy<(string? Path, string Reason)> s_vmlinux = new(ExtractCloudVmlinux);

    /// <summary>The cache folder shared by the test scripts.</summary>
    public static string Cache =>
        Environment.GetEnvironmentVariable("LGUEST_CACHE") is { Length: > 0 } cache
            ? cache
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "lguest");

    /// <summary>The Debian cloud kernel's bzImage (vmlinuz); ignores the test when it cannot be had.</summary>
    public static string CloudBzImage => s_cloud.Value.Path ?? Ignore(s_cloud.Value.Reason);

    /// <summary>The cloud kernel's release (uname -r), e.g. 6.1.0-56-cloud-amd64.</summary>
    public static string CloudRelease => s_cloud.Value.Release ?? Ignore(s_cloud.Value.Reason);

    /// <summary>The ELF vmlinux decompressed from the cloud bzImage's payload, cached next to the kernels.</summary>
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

    private static (string?, string?, string) FindCloudKernel()
    {
        string why = "";
        string? script = FindRepositoryFile(Path.Combine("Lguest.Tests", "Guests", "kernels.sh"));
        if (script is not null)
        {
            // kernels.sh prints shell assignments; let bash evaluate them and print the two we need.
            var (exit, output, error) = Run("bash", "-c",
                "eval \"$(bash \"$0\")\" && printf '%s\\n%s\\n' \"$LGUEST_CLOUD_VMLINUZ\" \"$LGUEST_CLOUD_RELEASE\"", script);
            string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (exit == 0 && lines.Length == 2 && File.Exists(lines[0]))
                return (lines[0], lines[1], "");
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
                return (found.Path, found.Release, "");
        }
        return (null, null, $"no Debian cloud kernel: {why}");
    }

    private static (string?, string) ExtractCloudVmlinux()
    {
        var (bzImage, release, reason) = s_cloud.Value;
        if (bzImage is null || release is null)
            return (null, reason);
        string folder = Path.Combine(Cache, "vmlinux");
        string target = Path.Combine(folder, "vmlinux-" + release);
        if (File.Exists(target) && new FileInfo(target).Length > 0)
            return (target, "");

        byte[] payload = ReadPayload(bzImage);
        string format = PayloadFormat(payload);
        byte[] vmlinux;
        switch (format)
        {
            case "lz4-legacy":
                vmlinux = Lz4LegacyFrames.DecompressKernelPayload(payload);
                break;
            case "gzip":
                using (var gzip = new GZipStream(new MemoryStream(payload), CompressionMode.Decompress))
                using (var buffer = new MemoryStream())
                {
                    gzip.CopyTo(buffer);
                    vmlinux = buffer.ToArray();
                }
                break;
            default:
                return (null, $"{bzImage}: payload compressed with {format}, which the test support cannot decompress");
        }
        // The payload is vmlinux.bin (the stripped ELF) with the relocation table appended; the ELF
        // loader reads only what its headers point at.
        if (vmlinux.Length < 4 || BinaryPrimitives.ReadUInt32LittleEndian(vmlinux) != 0x464C457F)
            return (null, $"{bzImage}: the decompressed payload is not an ELF file");
        Directory.CreateDirectory(folder);
        // Write then rename, so a parallel test run never sees half a file.
        string temporary = $"{target}.{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temporary, vmlinux);
        File.Move(temporary, target, overwrite: true);
        return (target, "");
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
